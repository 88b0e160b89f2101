"""Stage CSV records as gzip parts whose count is a multiple of the warehouse's slice count.

Redshift loads one file per slice at a time, so a batch split into N x slices files of similar
size keeps every slice busy; AWS advises 1-125 MB per compressed file.

Records arrive as bytes, in the CSV dialect Postgres COPY writes (comma, `"` quotes, a quote
inside a quoted field doubled, records ended by "\\n", NULL as an empty unquoted field): straight
from the source's `COPY (...) TO STDOUT`, or encoded from Python rows (encode_rows). Python never
holds a row: the byte stream is cut into blocks at record ends, the blocks are dealt in turn to
the open group of `slice_count` parts, and each part, on a thread of its own, measures its blocks
with Arrow's CSV reader (widest text values, keys) and compresses them with ISA-L's gzip (both
release the GIL). A profile of the row-by-row writer this replaces spent its time in csv.writer,
per-row width and key tracking and zlib, all under the GIL.

The same records always give the same bytes: where a block ends depends on the bytes alone, blocks
go to parts in order, each part compresses its blocks in order in one gzip stream with mtime 0.
A re-extracted, unchanged day therefore has the same checksums and is not loaded twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from isal import isal_zlib

from warehouse_platform.contract.redshift_types import integer_range, preview
from warehouse_platform.staged_files.key_evidence import (
    DEFAULT_MAX_CANDIDATES,
    KeyUniquenessTracker,
)

DEFAULT_MAX_PART_BYTES = 64 * 1024 * 1024
# ISA-L level 1 compresses CSV about as well as zlib's level 1 at three times the speed; on a
# small worker the compressor, not the network, is the bottleneck.
DEFAULT_COMPRESSLEVEL = 1
DEFAULT_BLOCK_BYTES = 1024 * 1024
# Blocks start this small and double with every round of the group, so even a small day gives
# every part rows (a slice with nothing to load idles) and a large one soon moves in full blocks.
_FIRST_BLOCK_BYTES = 256
_QUEUED_BLOCKS = 2  # per part: bounds memory while the source is faster than the compressors
_GZIP_WBITS = 31  # a gzip member (header with mtime 0, no name)


def _releasing_memory_pool() -> pa.MemoryPool:
    """Arrow's default pool, mimalloc, keeps the segments each part's thread freed: a day's peak
    RSS was about 50 MB higher with it (230 against 185 MB for a 100,000-row day, in the same
    time). jemalloc hands them back; the system allocator where Arrow was built without it."""
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.system_memory_pool()


# For every Arrow allocation of the process (the CSV reader and compute calls of the parts'
# threads), unless ARROW_DEFAULT_MEMORY_POOL chose a pool on purpose.
if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
    pa.set_memory_pool(_releasing_memory_pool())


@dataclass(frozen=True)
class WidestValue:
    """The widest value of a text column in one part: its UTF-8 size and where it is."""

    bytes: int
    line: int  # the record's line in the decompressed file, header = line 1 (record n+1 is line n+2)
    preview: str


@dataclass(frozen=True)
class WrittenPart:
    path: Path
    row_count: int
    content_length: int
    sha256: str
    widest: dict[str, WidestValue] = field(default_factory=dict)


@dataclass(frozen=True)
class WrittenParts:
    parts: list[WrittenPart]
    # Keys that may occur more than once ([] proves them unique; None: unknown, see key_uniqueness).
    duplicate_candidates: list[tuple[str, ...]] | None


class ValueOutOfRange(ValueError):
    """A value outside its integer column's declared type, found while staging: named by the
    row's key (what a person looks up in the source), not by a line of a part not yet loaded."""

    def __init__(self, column: str, sql_type: str, value: int, key: dict[str, str], table: str | None = None) -> None:
        self.column, self.sql_type, self.value, self.key, self.table = column, sql_type, value, key, table
        row = ", ".join(f"{name}={value}" for name, value in key.items()) or "unknown (no key declared)"
        low, high = integer_range(sql_type)
        super().__init__(
            f"{table + ': ' if table else ''}the source's row with key {row} has {column} = {value}, "
            f"outside the column's declared type {sql_type} ({low:,}..{high:,}); widen the column in the "
            "contract (bigint, or numeric) and re-stage the day"
        )

    def in_table(self, table: str) -> ValueOutOfRange:
        return ValueOutOfRange(self.column, self.sql_type, self.value, self.key, table)


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


def csv_record(values: Sequence[str | None]) -> bytes:
    """One record in the stage's dialect (used for header lines)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue().encode("utf-8")


def encode_rows(batches: Iterable[Sequence[Sequence]]) -> Iterator[bytes]:
    """Python rows as CSV records in the stage's dialect, as Postgres' COPY TO writes them: None
    is an unquoted empty field (NULL), "" a quoted one (empty text), so every loader reads the
    two apart (the extract keeps them apart the same way)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for batch in batches:
        if any(v == "" for row in batch for v in row):
            # csv.writer writes "" unquoted, like None: these rows are written field by field.
            yield "".join(",".join(_quoted(v) for v in row) + "\n" for row in batch).encode("utf-8")
            continue
        writer.writerows(batch)
        if data := out.getvalue():
            out.seek(0)
            out.truncate()
            if "\r" in data:  # csv.writer leaves a carriage return unquoted; COPY and Arrow would end the record there
                data = "".join(",".join(_quoted(v) for v in row) + "\n" for row in batch)
            yield data.encode("utf-8")


def _quoted(value) -> str:
    """One field as Postgres's COPY writes it (only for rows csv.writer would get wrong)."""
    if value is None:
        return ""
    text = str(value)
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if text == "" or any(c in text for c in ',"\n\r') else text


def _record_end(buffer: bytearray, start: int) -> int | None:
    """Offset just past the first record end at or after `start`: a "\\n" preceded by an even
    number of quotes (a quoted field may hold newlines; its quotes come in pairs)."""
    quotes = buffer.count(b'"', 0, start)
    position = start
    while (newline := buffer.find(b"\n", position)) >= 0:
        quotes += buffer.count(b'"', position, newline)
        if quotes % 2 == 0:
            return newline + 1
        position = newline + 1
    return None


@dataclass
class _BlockStats:
    rows: int
    widest: dict[str, tuple[int, int, str]]  # column -> (bytes, index in block, value)
    first_key: tuple[str, ...] | None
    last_key: tuple[str, ...] | None
    repeated_keys: list[tuple[str, ...]]
    out_of_range: ValueOutOfRange | None = None  # the block's first value outside its integer type


class _Measure:
    """What a block of records says about its text widths and keys, read by Arrow."""

    def __init__(self, columns: Sequence[str], measured: Sequence[str], keys: Sequence[str], keys_in_order: bool,
                 tracker: KeyUniquenessTracker | None, ranged: Sequence[tuple[str, str]] = ()) -> None:
        self.columns = list(columns)
        self.measured = list(measured)
        self.keys = list(keys)
        self.keys_in_order = keys_in_order
        self.tracker = tracker
        self.tracker_lock = threading.Lock()
        self.ranged = [(column, sql_type, *integer_range(sql_type)) for column, sql_type in ranged]
        wanted = set(self.measured) | set(self.keys) | {column for column, *_ in self.ranged}
        # Every record is counted even when no column is measured: read the first one.
        self.include = [c for c in self.columns if c in wanted] or self.columns[:1]

    def __call__(self, block: bytes) -> _BlockStats:
        table = pacsv.read_csv(
            pa.py_buffer(block),
            read_options=pacsv.ReadOptions(column_names=self.columns, use_threads=False, block_size=len(block) + 1),
            # Blank lines are records too (a one-column table's NULL).
            parse_options=pacsv.ParseOptions(newlines_in_values=b'"' in block, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in self.include}, include_columns=self.include,
                strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )
        rows = table.num_rows
        widest = {}
        for column in self.measured:
            lengths = pc.binary_length(table[column])
            top = pc.max(lengths)
            # The first of the widest, as Python's max(). The Arrow scalar, not its Python value:
            # given a Python int, pc.index converts it with pa.scalar, which imports pandas
            # (about 60 MB of a run's memory, for nothing).
            index = pc.index(lengths, top).as_py()
            widest[column] = (top.as_py(), index, table[column][index].as_py())
        out_of_range = self._first_out_of_range(table)
        first = last = None
        repeated: list[tuple[str, ...]] = []
        if self.keys and rows:
            key_columns = [table[k].combine_chunks() for k in self.keys]
            if self.keys_in_order:
                # Rows come in key order (extract_sql orders by the key): equal keys are neighbours.
                first = tuple(k[0].as_py() for k in key_columns)
                last = tuple(k[rows - 1].as_py() for k in key_columns)
                if rows > 1:
                    # No Python constants in Arrow calls here and below: converting one (pa.scalar)
                    # imports pandas, about 40 MB of every run's memory, for nothing.
                    same = None
                    for k in key_columns:
                        # An empty key field is a NULL key: the load refuses those on its own
                        # (a length cast to boolean: not empty).
                        equal = pc.and_(pc.equal(k.slice(1), k.slice(0, rows - 1)), pc.cast(pc.binary_length(k.slice(1)), pa.bool_()))
                        same = equal if same is None else pc.and_(same, equal)
                    for i in pc.indices_nonzero(same).to_pylist():
                        repeated.append(tuple(k[i + 1].as_py() for k in key_columns))
            elif self.tracker is not None:
                with self.tracker_lock:
                    self.tracker.observe_columns([k.to_numpy(zero_copy_only=False) for k in key_columns])
        return _BlockStats(rows, widest, first, last, repeated, out_of_range)

    def _first_out_of_range(self, table: pa.Table) -> ValueOutOfRange | None:
        for column, sql_type, low, high in self.ranged:
            text = table[column].combine_chunks()
            # Only whole numbers are judged here: anything else ("12x") is COPY's to refuse, with its line.
            whole = pc.match_substring_regex(text, r"^[+-]?[0-9]+$")
            positions = _numpy_view(pc.indices_nonzero(whole), np.uint64)
            approximate = _numpy_view(pc.cast(pc.filter(text, whole), pa.float64()), np.float64)
            # A double finds the values near or past a bound (rare), compared in numpy (an Arrow
            # call given the bound would convert it with pa.scalar, which imports pandas); Python's
            # int judges each exactly (a double cannot tell 2**63 - 1 from 2**63).
            near = positions[(approximate > high * 0.999) | (approximate < low * 0.999)]
            for index in near.tolist():
                value = int(text[index].as_py())
                if not low <= value <= high:
                    key = {k: table[k][index].as_py() for k in self.keys}
                    return ValueOutOfRange(column, sql_type, value, key)
        return None


def _numpy_view(array: pa.Array, dtype) -> np.ndarray:
    """A null-free numeric Arrow array's values as numpy, without a copy. Not Array.to_numpy,
    which imports pandas (about 40 MB of a run's memory) to look for pandas' own types."""
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * np.dtype(dtype).itemsize)


class _Part(threading.Thread):
    """One part file, written by its own thread from the blocks queued for it."""

    def __init__(self, path: Path, header: bytes, measure: _Measure, compresslevel: int) -> None:
        super().__init__(name=f"stage-{path.name}", daemon=True)
        self.path = path
        self.header = header
        self.measure = measure
        self.compresslevel = compresslevel
        self.blocks: queue.Queue[tuple[int, bytes] | None] = queue.Queue(_QUEUED_BLOCKS)
        self.uncompressed = len(header)
        self.stats: list[tuple[int, _BlockStats]] = []  # (block number in the stream, stats)
        self.result: WrittenPart | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        raw = HashingWriter(self.path)
        try:
            compressor = isal_zlib.compressobj(self.compresslevel, isal_zlib.DEFLATED, _GZIP_WBITS)
            raw.write(compressor.compress(self.header))
            rows = 0
            widest: dict[str, WidestValue] = {}
            while (item := self.blocks.get()) is not None:
                if self.error is not None:
                    continue  # drain, so the producer never blocks on a dead part
                number, block = item
                try:
                    stats = self.measure(block)
                    if stats.out_of_range is not None:
                        raise stats.out_of_range
                    raw.write(compressor.compress(block))
                except BaseException as error:  # noqa: BLE001 - re-raised by the producer
                    self.error = error
                    continue
                for column, (size, index, value) in stats.widest.items():
                    if column not in widest or size > widest[column].bytes:
                        widest[column] = WidestValue(size, rows + index + 2, preview(value))
                rows += stats.rows
                self.stats.append((number, stats))
            if self.error is None:
                raw.write(compressor.flush())
        except BaseException as error:  # noqa: BLE001
            self.error = error
        finally:
            raw.close()
        if self.error is None:
            self.result = WrittenPart(self.path, rows, raw.size, raw.sha256.hexdigest(), widest)

    def add(self, number: int, block: bytes) -> None:
        self.uncompressed += len(block)
        self.blocks.put((number, block))

    def finish(self) -> WrittenPart:
        self.blocks.put(None)
        self.join()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class PartWriter:
    """A writable (its write() takes bytes, so psycopg2's copy_expert can stream into it) that
    turns CSV records into parts under `directory`.

    Parts are opened `slice_count` at a time. A group is closed (its parts handed to
    `on_part_written`, e.g. to upload and delete them) before any of its parts would pass
    `max_part_bytes` uncompressed, so no compressed part can (CSV does not grow under deflate).
    No records means no parts. With `header` None the stream's first record is its header,
    handed to `check_header` (which returns why it is wrong, or None; the writer then raises
    ValueError with it). For the columns in `measure_widths_of`, each part records its widest
    value in UTF-8 bytes and its line, so VARCHAR overflow is known before any COPY; a value of
    a column in `check_ranges_of` ((name, integer type)) outside its type's range raises
    ValueOutOfRange naming the row's key, before any COPY too. Keys: if
    `keys_in_order`, equal keys are neighbours and the repeated ones are exactly the duplicates;
    otherwise a KeyUniquenessTracker gathers candidates.
    """

    def __init__(
        self,
        columns: Sequence[str],
        directory: Path,
        *,
        slice_count: int,
        max_part_bytes: int = DEFAULT_MAX_PART_BYTES,
        compresslevel: int = DEFAULT_COMPRESSLEVEL,
        on_part_written: Callable[[WrittenPart], None] | None = None,
        measure_widths_of: Sequence[str] = (),
        key_columns: Sequence[str] = (),
        keys_in_order: bool = False,
        check_ranges_of: Sequence[tuple[str, str]] = (),
        header_in_stream: bool = False,
        check_header: Callable[[list[str]], str | None] | None = None,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
    ) -> None:
        if slice_count < 1:
            raise ValueError("slice_count must be at least 1")
        self.columns = list(columns)
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.slice_count = slice_count
        # Deflate's stored blocks add at most 5 bytes per 64 KiB, plus the gzip header and trailer.
        self.max_uncompressed = max_part_bytes - max_part_bytes // 8192 - 64
        self.compresslevel = compresslevel
        self.on_part_written = on_part_written
        self.block_bytes = min(block_bytes, max(1, self.max_uncompressed // 2))
        tracker = KeyUniquenessTracker(range(len(key_columns))) if key_columns and not keys_in_order else None
        self.tracker = tracker
        self.measure = _Measure(self.columns, measure_widths_of, key_columns, keys_in_order, tracker, check_ranges_of)
        self.keys_in_order = keys_in_order
        self.header = None if header_in_stream else csv_record(self.columns)
        self.check_header = check_header
        self.buffer = bytearray()
        self.next_cut = _FIRST_BLOCK_BYTES
        self.group: list[_Part] = []
        self.next_slot = 0
        self.blocks = 0
        self.written: list[WrittenPart] = []
        self.block_stats: list[tuple[int, _BlockStats]] = []

    # -- input ---------------------------------------------------------------------------------

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= self.next_cut:
            self._cut(final=False)
        return len(data)

    def _cut(self, final: bool) -> None:
        if self.header is None:
            if not self.buffer:
                return
            end = _record_end(self.buffer, 0)
            if end is None:
                if not final:
                    return
                end = len(self.buffer)
            self.header = bytes(self.buffer[:end])
            del self.buffer[:end]
            names = next(csv.reader([self.header.decode("utf-8")]), [])
            if self.check_header and (problem := self.check_header(names)):
                raise ValueError(problem)
        while len(self.buffer) >= (target := self._block_target()) or (final and self.buffer):
            end = _record_end(self.buffer, target - 1) if len(self.buffer) >= target else None
            if end is None:
                if not final:
                    self.next_cut = len(self.buffer) + _FIRST_BLOCK_BYTES  # a long record: look again later
                    return
                end = len(self.buffer)
            self._deal(bytes(self.buffer[:end]))
            del self.buffer[:end]
        self.next_cut = self._block_target()

    def _block_target(self) -> int:
        return min(self.block_bytes, _FIRST_BLOCK_BYTES << min(self.blocks // self.slice_count, 30))

    def _deal(self, block: bytes) -> None:
        if not block.endswith(b"\n"):
            block += b"\n"
        if self.group and self.group[self.next_slot].uncompressed + len(block) > self.max_uncompressed:
            self._close_group()
        if not self.group:
            first = len(self.written)
            self.group = [
                _Part(self.directory / f"part-{first + i:05d}.csv.gz", self.header, self.measure, self.compresslevel)
                for i in range(self.slice_count)
            ]
            self.next_slot = 0
        part = self.group[self.next_slot]
        if part.error is not None:
            self._close_group()  # raises the part's error
        part.add(self.blocks, block)
        self.blocks += 1
        self.next_slot = (self.next_slot + 1) % self.slice_count

    def _close_group(self) -> None:
        group, self.group = self.group, []
        done, error = [], None
        for part in group:
            try:
                done.append(part.finish())
                self.block_stats.extend(part.stats)
            except BaseException as failure:  # noqa: BLE001 - the first failure is raised below
                error = error or failure
        if error is not None:
            raise error
        for part in done:
            self.written.append(part)
            if self.on_part_written:
                self.on_part_written(part)

    # -- output --------------------------------------------------------------------------------

    def close(self) -> WrittenParts:
        """Write what is left, close the last group; the parts and the key evidence."""
        self._cut(final=True)
        self._close_group()
        return WrittenParts(self.written, self._candidates())

    def abort(self) -> None:
        """Stop the part threads and remove what the open group wrote."""
        for part in self.group:
            part.error = part.error or RuntimeError("aborted")
            part.blocks.put(None)
        for part in self.group:
            part.join()
            part.path.unlink(missing_ok=True)
        self.group = []

    def _candidates(self) -> list[tuple[str, ...]] | None:
        if not self.measure.keys:
            return None
        if not self.keys_in_order:
            return self.tracker.candidates if self.tracker else None
        repeated: set[tuple[str, ...]] = set()
        previous = None
        for _, stats in sorted(self.block_stats, key=lambda s: s[0]):
            repeated.update(stats.repeated_keys)
            if previous is not None and stats.first_key == previous and all(previous):
                repeated.add(previous)
            previous = stats.last_key if stats.rows else previous
        return None if len(repeated) > DEFAULT_MAX_CANDIDATES else sorted(repeated)


def write_csv_parts(
    columns: Sequence[str],
    chunks: Iterable[bytes],
    directory: Path,
    **options,
) -> WrittenParts:
    """Feed `chunks` of CSV records (no header) through a PartWriter; see its options."""
    writer = PartWriter(columns, directory, **options)
    try:
        for chunk in chunks:
            writer.write(chunk)
        return writer.close()
    except BaseException:
        writer.abort()
        raise
