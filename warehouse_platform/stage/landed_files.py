"""Files other systems dropped under landing/, staged byte for byte.

Each landed file becomes one part of its batch with the same lines (recompressed as gzip when it
was plain CSV), so every error downstream, from this module or from COPY, names the file the
user gave and its true line (StagedPart.source_url). On the way through, the file is read as
text line by line, so it must be UTF-8 (a bad byte is reported at its line and column), have
the table's header, the right number of fields on every line and no empty key, and, when the
table declares a day column, rows of the folder's day only; text widths and key evidence are
gathered as for extracted rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from isal import igzip

from warehouse_platform.contract.history import day_not_of_folder
from warehouse_platform.contract.redshift_types import preview, utf8_width
from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.stage.batch_writer import publish_manifest
from warehouse_platform.stage.storage import Stage
from warehouse_platform.staged_files.key_evidence import KeyUniquenessTracker
from warehouse_platform.staged_files.load_error import LoadError
from warehouse_platform.staged_files.manifest import StagedBatch, StagedPart
from warehouse_platform.staged_files.part_writer import (
    DEFAULT_COMPRESSLEVEL,
    HashingWriter,
    WidestValue,
)

KEY_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class LandedFiles:
    """What a stage asset hands to the stage IO manager when a table's rows were landed."""

    spec: TableSpec
    # (stage key, version) of every file of the table and day when the run took them: the batch
    # records the versions, so the day's landing record says exactly what its rows come from.
    versions: tuple[tuple[str, str], ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(sorted(key for key, _ in self.versions))


class _Readable(io.RawIOBase):
    """Any object with read(n) (an S3 streaming body, a file) as a buffered, line-iterable stream."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@contextmanager
def open_landed(stage: Stage, key: str) -> Iterator[io.BufferedIOBase]:
    """A landed file's bytes as the system that dropped it wrote them, streamed: a name ending
    `.gz` is gzip (ISA-L's reader, as for extracted parts in staged_files/part_writer.py: the same
    format and errors, a third of zlib's CPU). Used by CSV staging and log structuring alike."""
    with stage.open_binary(key) as landed:
        binary = io.BufferedReader(_Readable(landed), 1 << 20)
        yield igzip.IGzipFile(fileobj=binary, mode="rb") if key.endswith(".gz") else binary


def _field_of(line_prefix: str) -> int:
    """Index of the CSV field a position falls in, from the text before it."""
    return max(0, len(next(csv.reader([line_prefix]), [""])) - 1)


def _text_lines(binary, copy_to, spec: TableSpec, url: str) -> Iterator[str]:
    """Decode line by line (so a bad byte is reported at its own line) and copy each line's
    bytes unchanged into the part."""
    for number, raw in enumerate(binary, start=1):
        copy_to.write(raw)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            before = raw[: error.start].decode("utf-8", errors="replace")
            field = _field_of(before)
            column = spec.column_names[field] if number > 1 and field < len(spec.column_names) else None
            raise LoadError(
                spec.qualified_name, url, number, column,
                f"not UTF-8: byte 0x{raw[error.start]:02x} at character {len(before) + 1} of the line",
            ) from None


def _stage_one(
    stage: Stage, key: str, target: Path, spec: TableSpec, tracker: KeyUniquenessTracker | None, day: str | None = None,
):
    url = stage.url_for(key)
    names = list(spec.column_names)
    # Rows must be of the folder's day by the table's declared day column (its date part; a
    # value's first 10 characters are few, so each is judged once).
    day_index = names.index(spec.landed_day_column) if spec.landed_day_column and day else None
    judged: dict[str, str | None] = {}
    measured = {names.index(c): c for c in spec.text_column_names}
    key_indexes = [names.index(k) for k in spec.primary_key]
    widest: dict[str, WidestValue] = {}
    rows = 0
    pending: list[list[str]] = []
    raw = HashingWriter(target)
    try:
        with open_landed(stage, key) as binary:
            with igzip.IGzipFile(fileobj=raw, mode="wb", compresslevel=DEFAULT_COMPRESSLEVEL, mtime=0) as part:
                reader = csv.reader(_text_lines(binary, part, spec, url))
                header = next(reader, None)
                if header is None:
                    raise LoadError(spec.qualified_name, url, None, None, "empty file: no header row")
                if header != names:
                    raise LoadError(spec.qualified_name, url, 1, None, f"header {header} does not match the table's columns {names}")
                for row in reader:
                    line = reader.line_num
                    if len(row) != len(names):
                        raise LoadError(spec.qualified_name, url, line, None, f"{len(row)} fields where the table has {len(names)} columns")
                    for j in key_indexes:
                        if row[j] == "":
                            raise LoadError(spec.qualified_name, url, line, names[j], f"NULL primary key ({names[j]})")
                    if day_index is not None and (value := row[day_index]):
                        prefix = value[:10]
                        if prefix not in judged:
                            judged[prefix] = day_not_of_folder(prefix, day)
                        if judged[prefix] is not None:
                            raise LoadError(
                                spec.qualified_name, url, line, spec.landed_day_column,
                                f"a row of day {judged[prefix]} in a file landed for day {day} "
                                f"({spec.landed_day_column} = {preview(value)}): land it under day={judged[prefix]}/",
                            )
                    for j, column in measured.items():
                        width = utf8_width(row[j])
                        if width and (column not in widest or width > widest[column].bytes):
                            widest[column] = WidestValue(width, line, preview(row[j]))
                    rows += 1
                    if tracker is not None:
                        pending.append(row)
                        if len(pending) >= KEY_BATCH_ROWS:
                            tracker.observe(pending)
                            pending = []
    except (gzip.BadGzipFile, EOFError, csv.Error, OSError) as error:
        raise LoadError(spec.qualified_name, url, None, None, f"unreadable file: {error}") from None
    finally:
        raw.close()
    if tracker is not None and pending:
        tracker.observe(pending)
    return rows, raw.size, raw.sha256.hexdigest(), widest


def write_landed_batch(
    stage: Stage, prefix: str, partition_key: str | None, landed: LandedFiles, *, batch_id: str | None = None
) -> StagedBatch:
    spec = landed.spec
    names = list(spec.column_names)
    tracker = KeyUniquenessTracker([names.index(k) for k in spec.primary_key]) if spec.primary_key else None
    parts = []
    with tempfile.TemporaryDirectory(prefix="landed-") as scratch:
        for i, key in enumerate(sorted(landed.keys)):
            name = f"part-{i:05d}.csv.gz"
            rows, size, sha256, widest = _stage_one(stage, key, Path(scratch) / name, spec, tracker, partition_key)
            stage.put_file(Path(scratch) / name, f"{prefix}/{name}")
            parts.append(StagedPart(stage.url_for(f"{prefix}/{name}"), rows, size, sha256, widest, source_url=stage.url_for(key)))
    candidates = tracker.candidates if tracker else None
    batch = StagedBatch(
        table=spec.qualified_name, partition_key=partition_key, columns=spec.column_names, parts=tuple(parts),
        duplicate_candidates=None if candidates is None else tuple(candidates), batch_id=batch_id,
        landed_versions=landed.versions,
    )
    return publish_manifest(stage, prefix, batch)
