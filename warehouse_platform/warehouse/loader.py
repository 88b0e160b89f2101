"""Load one staged batch into its warehouse table, exactly once, all or nothing.

Exactly once rests on the load ledger, written in the same transaction as the rows:
- the ledger's active files for (table, partition) equal the batch's files and checksums
  -> the batch is already in the table; nothing is done (a retried or duplicated run);
- anything else -> the load runs and, for replace and upsert, takes the partition's place
  entirely (a changed file under the same partition replaces the partition's rows).
How the rows get in is the warehouse's business (Warehouse.load_batch): a staging table in one
transaction, or, on Postgres, a parallel load swapped in as the day's partition.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from warehouse_platform.contract import source_contract
from warehouse_platform.contract.table_spec import Column, TableSpec
from warehouse_platform.stage.storage import Stage
from warehouse_platform.staged_files.load_error import LoadError
from warehouse_platform.staged_files.manifest import StagedBatch
from warehouse_platform.staged_files.text_widths import width_violations
from warehouse_platform.warehouse import ledger
from warehouse_platform.warehouse.load_request import LoadRequest
from warehouse_platform.warehouse.resources import Warehouse

# What a load of a day the source has no rows for says, in its metadata, its run's log and the
# CLI: not "already loaded", which would read as "nothing new" when there was nothing at all.
NOTHING_IN_THE_SOURCE = "0 rows: the source has nothing for this day"
NOTHING_IN_THE_SOURCE_TABLE = "0 rows: the source has nothing for this table"
ALREADY_LOADED = "nothing ran: every file was already loaded"


@dataclass(frozen=True)
class LoadReport:
    table: str
    partition_key: str
    load_id: int
    already_loaded: bool
    # The day's rows are exactly this batch's files (loaded now, or already before).
    day_holds_batch: bool
    rows_staged: int
    rows_loaded: int
    duplicates_skipped: int
    duplicate_keys_sample: tuple[tuple, ...]
    # Offered rows of keys the table held in a newer version: kept as they were.
    rows_superseded: int
    # Rows of keys that left the day, loaded into the days they now live in.
    rows_moved: int
    # Keys the source no longer holds: removed, kept or marked under the table's delete policy.
    keys_deleted: int
    # key_window_days (sql/key_window.py): the batch's copies held back for a later day's copy of
    # their key, earlier days' copies its copies now beat, held-back copies given back to raw_data.
    rows_held_back: int
    earlier_copies_held_back: int
    copies_restored: int
    files: int
    bytes: int
    seconds: float
    partition_rows: int
    table_rows: int
    copy_statement: str
    # The table's columns as this load saw them: the declared ones, those the platform added,
    # the loader's own (the UI's column schema of the raw asset).
    columns: tuple[Column, ...] = ()
    partitioned: bool = True
    # The batch holds no rows: the source had nothing (whether or not this load ran; rows_staged
    # counts only what this load staged, 0 when its files were already loaded).
    empty: bool = False

    @property
    def outcome(self) -> str:
        if self.empty:
            return NOTHING_IN_THE_SOURCE if self.partitioned else NOTHING_IN_THE_SOURCE_TABLE
        if self.already_loaded:
            return ALREADY_LOADED
        return f"loaded {self.rows_loaded:,} of {self.rows_staged:,} rows staged"


def check_staged_widths(spec: TableSpec, batch: StagedBatch) -> None:
    """VARCHAR overflow found from the manifest, before any COPY: the column, the file, the
    line and the widest value, instead of a rejected load (staged_files/text_widths.py)."""
    for width in width_violations(spec, batch):
        raise LoadError(
            spec.qualified_name, width.file_url, width.widest.line, width.column,
            f"value of {width.widest.bytes} bytes (UTF-8) does not fit varchar({width.limit}): {width.widest.preview!r}; "
            "widen the column, or set truncate_columns on the table's load spec to cut such values",
        )


def load_staged_batch(
    warehouse: Warehouse, stage: Stage, spec: TableSpec, batch: StagedBatch, run_id: str, *, allow_shrink: bool = False
) -> LoadReport:
    """Load `batch`; a failure names the file the user gave (a landed file) where there is one.
    `allow_shrink`: let the load replace a day (or table) with far fewer rows, or none."""
    try:
        return _load(warehouse, stage, spec, batch, run_id, allow_shrink)
    except LoadError as error:
        source = batch.source_of(error.file_url)
        if source == error.file_url:
            raise
        raise error.at_file(source) from None


def _load(warehouse: Warehouse, stage: Stage, spec: TableSpec, batch: StagedBatch, run_id: str, allow_shrink: bool) -> LoadReport:
    started = time.monotonic()
    # Columns the platform added to the table (on_new_column: add), earlier or found new in the
    # source by this batch's extract: the files carry them after the declared ones.
    try:
        added = tuple(source_contract.added_column(n, t) for n, t in batch.added_columns)
    except ValueError as error:
        raise LoadError(spec.qualified_name, batch.manifest_url, None, None, str(error)) from None
    spec = spec.with_added_columns(added)
    if problem := spec.file_columns_problem(tuple(batch.columns)):
        raise LoadError(spec.qualified_name, batch.manifest_url, None, None, problem)
    check_staged_widths(spec, batch)
    warehouse.ensure_table(spec, added=tuple(c.name for c in added), run_id=run_id)
    request = LoadRequest(spec, batch, run_id, allow_shrink)
    with warehouse.connection() as conn, conn.cursor() as cur:
        # Cheap early exit for retries; the load re-checks under its table lock.
        already = ledger.is_loaded(cur, spec, batch, request.partition_key)
    if already:
        outcome = warehouse.describe_loaded(request)
    else:
        outcome = warehouse.load_batch(stage, request)
        if not outcome.already_loaded:  # a duplicated run found the batch loaded under the table's lock
            warehouse.refresh_statistics(request)
    return LoadReport(
        table=spec.qualified_name,
        partition_key=request.partition_key,
        load_id=request.load_id,
        already_loaded=outcome.already_loaded,
        day_holds_batch=outcome.day_holds_batch,
        rows_staged=outcome.rows_staged,
        rows_loaded=outcome.rows_loaded,
        duplicates_skipped=outcome.rows_staged - outcome.rows_loaded - outcome.rows_superseded - outcome.rows_held_back,
        duplicate_keys_sample=outcome.duplicate_keys,
        rows_superseded=outcome.rows_superseded,
        rows_moved=outcome.rows_moved,
        keys_deleted=outcome.keys_deleted,
        rows_held_back=outcome.rows_held_back,
        earlier_copies_held_back=outcome.earlier_copies_held_back,
        copies_restored=outcome.copies_restored,
        files=len(batch.parts),
        bytes=batch.content_length,
        seconds=round(time.monotonic() - started, 3),
        partition_rows=outcome.partition_rows,
        table_rows=outcome.table_rows,
        copy_statement=outcome.copy_statement or f"-- {NOTHING_IN_THE_SOURCE if batch.row_count == 0 else ALREADY_LOADED}",
        columns=spec.table_columns,
        partitioned=spec.partitioned,
        empty=batch.row_count == 0,
    )
