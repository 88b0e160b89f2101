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
import tempfile
from collections.abc import Iterator
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
# Landed files reach DuckDB in pieces of about this size (see _local_pieces), read in blocks of READ_BYTES.
PIECE_BYTES = 16 << 20
READ_BYTES = 1 << 20
# DuckDB's share of the worker: beyond this it spills to the scratch folder instead of growing.
DUCKDB_MEMORY_LIMIT = "256MB"
DUCKDB_THREADS = 2
FIRST_REJECTS = 10


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


def _local_pieces(stage: Stage, key: str, folder: Path, name: str, max_line_bytes: int) -> list[tuple[str, int]]:
    """The landed file as text on local disk, streamed (never whole in memory), cut at line ends
    into pieces of about PIECE_BYTES: DuckDB's read_text holds a piece whole, so the pieces bound
    its memory whatever the file's size. Whatever the bytes, every line is in a piece, as it
    landed or refused at its line (logs/landed_lines.py): a bad file is its own rejects, never
    the day's failure. Returns (path, lines before it) per piece."""

    def chunks() -> Iterator[bytes]:
        with stage.open_binary(key) as landed:
            while block := landed.read(READ_BYTES):
                yield block

    pieces: list[tuple[str, int]] = []
    for data, lines_before in landed_pieces(chunks, piece_bytes=PIECE_BYTES, max_line_bytes=max_line_bytes):
        path = folder / f"{name}-{len(pieces):05d}.txt"
        path.write_bytes(data)
        pieces.append((str(path), lines_before))
    return pieces


def structure_landed_logs(
    stage: Stage, prefix: str, partition_key: str | None, landed: LandedFiles, *, slice_count: int,
    max_part_bytes: int = DEFAULT_MAX_PART_BYTES, batch_id: str | None = None,
) -> tuple[StagedBatch, StructuringSummary]:
    spec = landed.spec
    if spec.structuring is None:
        raise ValueError(f"{spec.qualified_name} declares no structuring")
    with tempfile.TemporaryDirectory(prefix="structure-") as scratch:
        files = []
        for i, key in enumerate(sorted(landed.keys)):
            pieces = _local_pieces(stage, key, Path(scratch), f"landed-{i:05d}", spec.structuring.max_line_bytes)
            files += [(path, key, before) for path, before in pieces]
        if not files:  # only empty files landed
            files = [(str(Path(scratch) / "empty.txt"), sorted(landed.keys)[0], 0)]
            Path(files[0][0]).write_bytes(b"")
        # Imported here, not at the top: every run worker imports the code location, and only
        # structuring steps need DuckDB (about 20 MB of the worker's peak RSS).
        import duckdb

        con = duckdb.connect(config={
            "temp_directory": str(Path(scratch) / "duckdb_spill"),
            "memory_limit": DUCKDB_MEMORY_LIMIT,
            "threads": DUCKDB_THREADS,
            # Every result the step uses is explicitly ordered; unordered scans may then stream.
            "preserve_insertion_order": False,
        })
        try:
            # Offsets are applied by the engine, then every time is shown in UTC.
            con.execute("SET TimeZone = 'UTC'")
            # Every piece is UTF-8 text by now: a line whose bytes are not is a refused line in it.
            con.execute(sql.landed_lines_sql(files))
            con.execute(sql.structure_sql(spec))
            if spec.landed_day_column and partition_key:
                _refuse_rows_of_another_day(con, stage, spec, partition_key)
            [(lines_read,)] = con.execute(sql.line_count_sql()).fetchall()
            # The structured table has all it needs (a reject keeps its line): free the lines.
            con.execute(f"DROP TABLE {sql.LINES_TABLE}")
            summary = _write_rejects(con, stage, prefix, spec.structuring.reject_share_limit, lines_read, Path(scratch))
            rows = _structured_records(con, spec, Path(scratch) / "rows.csv")
            # The summary is complete (rows = lines - rejects) before the manifest makes the batch.
            summary = StructuringSummary(**{**asdict(summary), "rows": lines_read - summary.rejected})
            stage.write_text(f"{prefix}/{SUMMARY_NAME}", summary.to_json())
            batch = write_staged_batch(
                stage, prefix, spec.qualified_name, partition_key, rows, slice_count=slice_count,
                max_part_bytes=max_part_bytes, batch_id=batch_id, landed_versions=landed.versions,
            )
        finally:
            con.close()
    if batch.row_count != summary.rows:  # every line is a row or a reject: nothing else is lost
        raise AssertionError(f"{spec.qualified_name}: {summary.lines_read} lines gave {batch.row_count} rows and {summary.rejected} rejects")
    return batch, summary


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
    """The rows as CSV records: DuckDB writes them to a scratch file (sorted by key, spilling
    to disk beyond its memory limit), which then streams into the stage writer."""

    def copy_to(sink: BytesSink) -> None:
        # One thread: an ordered COPY on two threads ran out of DuckDB's memory limit now and then
        # (64 MB buffers; seen at 256 MB on 1M access lines, every time at 128 MB), while one
        # thread stays within 64 MB at the same speed (the sort spills; writing is sequential).
        con.execute("SET threads = 1")
        con.execute(sql.structured_rows_copy_sql(spec, str(path)))
        try:
            with open(path, "rb") as records:
                while chunk := records.read(COPY_CHUNK_BYTES):
                    sink.write(chunk)
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
