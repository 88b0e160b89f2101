"""Stream rows into gzip CSV parts whose count is a multiple of the warehouse's slice count.

Redshift loads one file per slice at a time, so a batch split into N x slices files of similar
size keeps every slice busy; AWS advises 1-125 MB per compressed file. Rows arrive in batches
(from a server-side cursor) and each batch is dealt across the open group of parts, so memory
holds one batch, never a whole partition.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from warehouse_platform.lib.key_uniqueness import KeyUniquenessTracker
from warehouse_platform.lib.redshift_types import preview, utf8_width

DEFAULT_MAX_PART_BYTES = 64 * 1024 * 1024
# Level 1 costs a fraction of the CPU of the default 9 for CSV that is typically within 15% of
# the size; on a small worker the compressor, not the network, is the bottleneck.
DEFAULT_COMPRESSLEVEL = 1


@dataclass(frozen=True)
class WidestValue:
    """The widest value of a text column in one part: its UTF-8 size and where it is."""

    bytes: int
    line: int  # in the decompressed file, header = line 1
    preview: str


@dataclass(frozen=True)
class WrittenPart:
    path: Path
    row_count: int
    content_length: int
    sha256: str
    widest: dict[str, WidestValue] = field(default_factory=dict)


class HashingWriter(io.RawIOBase):
    """Counts and hashes the compressed bytes on their way to disk (no second read)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.sha256.update(data)
        self.size += len(data)
        return self._file.write(data)

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


class _OpenPart:
    def __init__(self, path: Path, columns: Sequence[str], compresslevel: int, measured: Sequence[int]) -> None:
        self.path = path
        self.columns = columns
        self.measured = measured
        self.widest: dict[str, WidestValue] = {}
        self.raw = HashingWriter(path)
        # mtime=0 and no file name in the header: the same rows always give the same bytes, so
        # a re-extracted, unchanged partition has the same checksum and is not loaded twice.
        self.gzip = gzip.GzipFile(fileobj=self.raw, mode="wb", compresslevel=compresslevel, mtime=0)
        self.text = io.TextIOWrapper(self.gzip, encoding="utf-8", newline="")
        self.writer = csv.writer(self.text, lineterminator="\n")
        self.writer.writerow(columns)
        self.row_count = 0

    def write(self, rows: Sequence[Sequence]) -> None:
        self.writer.writerows(rows)
        for j in self.measured:
            k = max(range(len(rows)), key=lambda k: utf8_width(rows[k][j] or ""), default=None)
            if k is None or rows[k][j] is None:
                continue
            width = utf8_width(rows[k][j])
            name = self.columns[j]
            if name not in self.widest or width > self.widest[name].bytes:
                self.widest[name] = WidestValue(width, self.row_count + k + 2, preview(rows[k][j]))
        self.row_count += len(rows)

    def close(self) -> WrittenPart:
        self.text.close()  # closes the gzip stream, which writes the trailer
        self.raw.close()
        return WrittenPart(self.path, self.row_count, self.raw.size, self.raw.sha256.hexdigest(), self.widest)


def write_csv_parts(
    columns: Sequence[str],
    batches: Iterable[Sequence[Sequence]],
    directory: Path,
    *,
    slice_count: int,
    max_part_bytes: int = DEFAULT_MAX_PART_BYTES,
    compresslevel: int = DEFAULT_COMPRESSLEVEL,
    on_part_written: Callable[[WrittenPart], None] | None = None,
    measure_widths_of: Sequence[str] = (),
    key_tracker: KeyUniquenessTracker | None = None,
) -> list[WrittenPart]:
    """Write `batches` as gzip CSV parts (with a header row) under `directory`.

    Parts are opened `slice_count` at a time; when the group's parts reach `max_part_bytes`
    they are closed (and handed to `on_part_written`, e.g. to upload and delete them) and a new
    group is opened. No rows means no parts. For the columns in `measure_widths_of`, each part
    records its widest value in UTF-8 bytes (and its line), so VARCHAR overflow is known
    before any COPY.
    """
    measured = [list(columns).index(c) for c in measure_widths_of]
    if slice_count < 1:
        raise ValueError("slice_count must be at least 1")
    directory.mkdir(parents=True, exist_ok=True)
    written: list[WrittenPart] = []
    group: list[_OpenPart] = []

    def close_group() -> None:
        for part in group:
            done = part.close()
            written.append(done)
            if on_part_written:
                on_part_written(done)
        group.clear()

    try:
        for batch in batches:
            if not batch:
                continue
            if not group:
                first = len(written)
                group.extend(
                    _OpenPart(directory / f"part-{first + i:05d}.csv.gz", columns, compresslevel, measured)
                    for i in range(slice_count)
                )
            rows = batch if isinstance(batch, list) else list(batch)
            if key_tracker is not None:
                key_tracker.observe(rows)
            for i, part in enumerate(group):
                part.write(rows[i::slice_count])
            if max(part.raw.size for part in group) >= max_part_bytes:
                close_group()
        close_group()
    except BaseException:
        for part in group:
            part.text.close()
            part.path.unlink(missing_ok=True)
        raise
    return written
