"""The structuring step (the seed's Athena role): landed log lines -> staged rows + rejects.

DuckDB reads a day's landed files (copied, gunzipped, into a scratch folder through the Stage
resource, so the folder stage and S3 are one code path and no httpfs extension is needed), runs
the SQL generated from the table's declaration (logs/structuring_sql.py) and hands the rows to
the shared stage writer (write_staged_batch) as CSV records DuckDB writes itself, in key order,
exactly as an extract hands the source's COPY output: the same gzip CSV parts, manifest,
checksums, widths and exact key evidence as every other stage asset. No row becomes Python
objects (a profile of the row path spent over half the step in Python's CSV writer). Lines that cannot be
structured go to rejects.jsonl beside the parts, each with its landed file, line and reason;
structuring.json records the counts the `rejected_lines` check judges. Both are written before
the manifest, so a complete batch always has them.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from warehouse_platform.contract.history import LOG_LINE_DAY_TOLERANCE_DAYS, day_not_of_folder
from warehouse_platform.logs import structuring_sql as sql
from warehouse_platform.logs.landed_lines import landed_pieces
from warehouse_platform.stage.batch_writer import write_staged_batch
from warehouse_platform.stage.landed_files import LandedFiles
from warehouse_platform.stage.storage import Stage
from warehouse_platform.staged_files.load_error import LoadError
from warehouse_platform.staged_files.manifest import StagedBatch
from warehouse_platform.staged_files.part_writer import DEFAULT_MAX_PART_BYTES
from warehouse_platform.staged_files.row_batches import BytesSink, CsvRecords

REJECTS_NAME = "rejects.jsonl"
SUMMARY_NAME = "structuring.json"
FETCH_ROWS = 50_000
# The structured rows' CSV file reaches the stage writer in chunks of this size.
COPY_CHUNK_BYTES = 1 << 20
# Landed files reach DuckDB in pieces of about this size (see _landed_lines), read in blocks of
# READ_BYTES. With two pieces read at once (an earlier form of _landed_lines), 16 MB pieces took the
# step to 459 MB peak RSS on 1M JSON lines, 8 MB to 399 MB, 4 MB to 363 MB, reading about as fast;
# with one reader and 4 MB pieces, 360-364 MB (make bench-logs).
PIECE_BYTES = 4 << 20
READ_BYTES = 1 << 20
# Pieces cut and waiting for DuckDB's reader at most.
PIECES_AHEAD = 2
# A large day: more lines than this. Its structured rows are kept in DuckDB's database file in the
# scratch folder rather than in memory (structure_landed_logs).
LARGE_DAY_LINES = 2_000_000
# DuckDB's share of the worker: beyond this it spills to the scratch folder instead of growing.
DUCKDB_MEMORY_LIMIT = "128MB"
DUCKDB_THREADS = 2
FIRST_REJECTS = 10
# The stages structure_landed_logs times (its `timings`), in the order they run.
STAGES = ("read lines", "structure", "rejects", "ordered export + stage writer")


@dataclass(frozen=True)
class StructuringSummary:
    lines_read: int
    rows: int
    rejected: int
    reject_share_limit: float
    rejects_url: str
    # The first rejects, in landed order: {file, line, reason, text}.
    first_rejects: list[dict]

    @property
    def reject_share(self) -> float:
        return self.rejected / self.lines_read if self.lines_read else 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> StructuringSummary:
        return cls(**json.loads(text))


def _landed_lines(con, stage: Stage, keys: Sequence[str], scratch: Path, max_line_bytes: int) -> int:
    """Every landed file's lines into landed_lines, streamed (a file is never whole in memory):
    each file is cut at line ends into pieces of about PIECE_BYTES, DuckDB's read_text holding a
    piece whole, so the pieces bound its memory whatever the file's size. Whatever the bytes, every
    line is in a piece, as it landed or refused at its line (logs/landed_lines.py): a bad file is its
    own rejects, never the day's failure.

    A reader thread inserts each piece on the step's connection while this thread cuts the next:
    cutting (Python) and splitting into lines (DuckDB) overlap on the two cores. One after the
    other, reading 1M JSON lines took 2.3 s; this way about 1.5 s. (Inserted from two cursors,
    other connections, it took 1.0 s, but what they wrote stayed in DuckDB's temporary storage
    after the lines were dropped: 2.3 GB against 1.8 GB at 10M lines. Not measured since a large
    day's rows moved to the database file.) A piece's file is
    removed once inserted, and at most PIECES_AHEAD pieces wait, so the scratch folder holds a few
    pieces, not the day. Returns the number of lines cut, which landed_lines must hold."""
    con.execute(sql.lines_table_sql())
    numbers = sql.file_numbers(keys)

    def insert(path: Path, key: str, lines_before: int) -> None:
        try:
            con.execute(sql.lines_of_piece_sql(str(path), key, numbers[key], lines_before))
        finally:
            path.unlink(missing_ok=True)

    def chunks_of(key: str) -> Callable[[], Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            with stage.open_binary(key) as landed:
                while block := landed.read(READ_BYTES):
                    yield block
        return chunks

    waiting: deque[Future] = deque()
    lines_cut = 0
    # One reader: the connection runs one statement at a time, and this thread does not use it
    # until the reader is done.
    with ThreadPoolExecutor(1, thread_name_prefix="landed-lines") as reader:
        for i, key in enumerate(sorted(keys)):
            pieces = landed_pieces(chunks_of(key), piece_bytes=PIECE_BYTES, max_line_bytes=max_line_bytes)
            file_lines = 0
            for n, (data, lines_before) in enumerate(pieces):
                file_lines = lines_before + data.count(b"\n")  # every piece ends with a line end
                path = scratch / f"landed-{i:05d}-{n:05d}.txt"
                path.write_bytes(data)
                waiting.append(reader.submit(insert, path, key, lines_before))
                while len(waiting) > PIECES_AHEAD:
                    waiting.popleft().result()  # raises the reader's error here
            lines_cut += file_lines
        while waiting:
            waiting.popleft().result()
    return lines_cut


def structure_landed_logs(
    stage: Stage, prefix: str, partition_key: str | None, landed: LandedFiles, *, slice_count: int,
    max_part_bytes: int = DEFAULT_MAX_PART_BYTES, batch_id: str | None = None,
    timings: dict[str, tuple[float, float]] | None = None,
) -> tuple[StagedBatch, StructuringSummary]:
    """`timings`, when given, receives per stage of STAGES its (wall, CPU) seconds (the
    benchmark's profile; CPU is every thread of the process, DuckDB's and the stage writer's)."""
    spec = landed.spec
    laps = _Laps(timings)
    if spec.structuring is None:
        raise ValueError(f"{spec.qualified_name} declares no structuring")
    with tempfile.TemporaryDirectory(prefix="structure-") as scratch:
        # Imported here, not at the top: every run worker imports the code location, and only
        # structuring steps need DuckDB (about 20 MB of the worker's peak RSS).
        import duckdb

        # A database file in the scratch folder, for a large day's structured rows (below).
        con = duckdb.connect(str(Path(scratch) / "structuring.duckdb"), config={
            "temp_directory": str(Path(scratch) / "duckdb_spill"),
            "memory_limit": DUCKDB_MEMORY_LIMIT,
            "threads": DUCKDB_THREADS,
            # Every result the step uses is explicitly ordered; unordered scans may then stream.
            "preserve_insertion_order": False,
        })
        try:
            # Offsets are applied by the engine, then every time is shown in UTC.
            con.execute("SET TimeZone = 'UTC'")
            # Every piece is UTF-8 text: a line whose bytes are not is a refused line in it.
            lines_cut = _landed_lines(con, stage, sorted(landed.keys), Path(scratch), spec.structuring.max_line_bytes)
            laps.lap("read lines")
            # A large day's structured rows go to the database file: at 10M JSON lines, in memory
            # they filled DuckDB's whole memory limit (124 of 122 MB) and could not be let go, so
            # the ordered export failed to pin the block it needed; from the file, the one sort of
            # the whole day runs within the limit (10M lines: 59 s, 381 MB). A smaller day keeps
            # them in memory: writing them to the file cost 0.5-1 s at 1M lines.
            con.execute(sql.structure_sql(spec, temporary=lines_cut <= LARGE_DAY_LINES))
            if spec.landed_day_column and partition_key:
                _refuse_rows_of_another_day(con, stage, spec, partition_key)
            [(lines_read,)] = con.execute(sql.line_count_sql()).fetchall()
            if lines_read != lines_cut:  # e.g. a piece read_text found missing, which it reads as no rows
                raise AssertionError(f"{spec.qualified_name}: {lines_cut} landed lines were cut, DuckDB read {lines_read}")
            # The structured table has all it needs (a reject keeps its line): free the lines.
            con.execute(f"DROP TABLE {sql.LINES_TABLE}")
            laps.lap("structure")
            summary = _write_rejects(con, stage, prefix, spec.structuring.reject_share_limit, lines_read, Path(scratch))
            laps.lap("rejects")
            rows = _structured_records(con, spec, Path(scratch) / "rows.csv")
            # The summary is complete (rows = lines - rejects) before the manifest makes the batch.
            summary = StructuringSummary(**{**asdict(summary), "rows": lines_read - summary.rejected})
            stage.write_text(f"{prefix}/{SUMMARY_NAME}", summary.to_json())
            batch = write_staged_batch(
                stage, prefix, spec.qualified_name, partition_key, rows, slice_count=slice_count,
                max_part_bytes=max_part_bytes, batch_id=batch_id, landed_versions=landed.versions,
            )
            laps.lap("ordered export + stage writer")
        finally:
            con.close()
    if batch.row_count != summary.rows:  # every line is a row or a reject: nothing else is lost
        raise AssertionError(f"{spec.qualified_name}: {summary.lines_read} lines gave {batch.row_count} rows and {summary.rejected} rejects")
    return batch, summary


class _Laps:
    """(wall, CPU) seconds between laps, by the stage each lap ends (nothing kept without `into`).
    CPU time, unlike wall time, says what a stage costs also on a machine others share."""

    def __init__(self, into: dict[str, tuple[float, float]] | None) -> None:
        self.into = into
        self.last = (time.perf_counter(), time.process_time())

    def lap(self, stage: str) -> None:
        now = (time.perf_counter(), time.process_time())
        if self.into is not None:
            wall, cpu = self.into.get(stage, (0.0, 0.0))
            self.into[stage] = (wall + now[0] - self.last[0], cpu + now[1] - self.last[1])
        self.last = now


def _refuse_rows_of_another_day(con, stage: Stage, spec, day: str) -> None:
    """A file whose lines are of another day than its folder's (a 2015 log under a 2026 folder) is
    refused at its first such line, naming the line's day; lines within a day of the folder's are
    the shipper's midnight (contract/history.LOG_LINE_DAY_TOLERANCE_DAYS)."""
    for line_day, first, rows in con.execute(sql.days_of_rows_sql(spec.landed_day_column)).fetchall():
        other = day_not_of_folder(line_day, day, LOG_LINE_DAY_TOLERANCE_DAYS)
        if other is not None:
            raise LoadError(
                spec.qualified_name, stage.url_for(first["file"]), first["line"], spec.landed_day_column,
                f"{rows} lines of day {other} in files landed for day {day} (first: {spec.landed_day_column} = "
                f"{first['value']}, UTC); a line may be at most {LOG_LINE_DAY_TOLERANCE_DAYS} day from its folder's day: "
                f"land the file under day={other}/",
            )


def _structured_records(con, spec, path: Path) -> CsvRecords:
    """The rows as CSV records: DuckDB's ordered COPY writes them into a FIFO (sorted by key,
    spilling to disk beyond its memory limit) that the stage writer reads as they come, so
    DuckDB's CSV writing and the writer's measuring and gzip run at the same time on the two
    cores, and no scratch file of the whole day is written and read back."""

    def copy_to(sink: BytesSink) -> None:
        # One thread: an ordered COPY on two threads ran out of DuckDB's memory limit now and then
        # (64 MB buffers; seen at 256 MB on 1M access lines, every time at 128 MB), while one
        # thread stays within 64 MB at the same speed (the sort spills; writing is sequential).
        # The stage writer's part threads use the other core meanwhile.
        con.execute("SET threads = 1")
        os.mkfifo(path)
        try:
            _copy_through_fifo(con, sql.structured_rows_copy_sql(spec, str(path)), path, sink)
        finally:
            path.unlink(missing_ok=True)

    def check_header(names: list[str]) -> str | None:
        if tuple(names) != spec.column_names:
            return f"{spec.qualified_name}: structured columns {names} are not the declared {list(spec.column_names)}"
        return None

    return CsvRecords(
        columns=spec.column_names, copy_to=copy_to, text_columns=spec.text_column_names,
        key_columns=spec.primary_key, spec=spec, check_header=check_header,
    )


def _copy_through_fifo(con, copy_sql: str, fifo: Path, sink: BytesSink) -> None:
    """Run `copy_sql` (a COPY TO the FIFO `fifo`) on a thread of its own while this thread reads
    the FIFO into `sink`. Either side failing never leaves the other blocked: a COPY that fails
    before it opens the FIFO opens it itself and closes it (the reader sees the end), and a sink
    that fails closes the FIFO and interrupts the COPY. The failing side's error is raised."""
    errors: list[BaseException] = []
    reader_open = threading.Event()

    def produce() -> None:
        try:
            con.execute(copy_sql)
        except BaseException as error:  # noqa: BLE001 - raised by the reader below
            errors.append(error)
        # Release a reader still waiting in open() for a writer (the COPY failed before opening).
        while not reader_open.is_set():
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                return
            except OSError:  # no reader yet (ENXIO): it is on its way
                time.sleep(0.01)

    producer = threading.Thread(target=produce, name="structured-rows-copy", daemon=True)
    producer.start()
    try:
        with open(fifo, "rb", buffering=0) as records:
            reader_open.set()
            while chunk := records.read(COPY_CHUNK_BYTES):
                sink.write(chunk)
    except BaseException:
        # The FIFO is closed: the COPY's next write fails (a broken pipe), or the interrupt stops
        # it sooner; either way it ends, and the sink's error is the one raised.
        con.interrupt()
        raise
    finally:
        reader_open.set()
        producer.join()
    if errors:
        raise errors[0]


def _write_rejects(con, stage: Stage, prefix: str, limit: float, lines_read: int, scratch: Path) -> StructuringSummary:
    path = scratch / REJECTS_NAME
    first: list[dict] = []
    count = 0
    cursor = con.execute(sql.rejected_lines_sql())
    with open(path, "w", encoding="utf-8") as out:
        while batch := cursor.fetchmany(FETCH_ROWS):
            for key, line_number, reason, text in batch:
                reject = {"file": stage.url_for(key), "line": line_number, "reason": reason, "text": text}
                out.write(json.dumps(reject, ensure_ascii=False) + "\n")
                if len(first) < FIRST_REJECTS:
                    first.append(reject)
                count += 1
    stage.put_file(path, f"{prefix}/{REJECTS_NAME}")
    return StructuringSummary(lines_read, 0, count, limit, stage.url_for(f"{prefix}/{REJECTS_NAME}"), first)


def read_structuring_summary(stage: Stage, batch: StagedBatch) -> StructuringSummary:
    """What the structuring step recorded beside a staged batch's manifest."""
    folder = stage.key_for(batch.manifest_url).rsplit("/", 1)[0]
    return StructuringSummary.from_json(stage.read_text(f"{folder}/{SUMMARY_NAME}"))
