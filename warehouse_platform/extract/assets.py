"""Extract: the application's tables, and the staged files extracted from them.

One stage asset per raw table; its IO manager (StageIOManager) writes the rows as gzip CSV
parts plus a manifest, in the local folder or on S3.
"""

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import dagster as dg

from warehouse_platform import settings
from warehouse_platform.contract import source_contract
from warehouse_platform.contract.history import day_before_history
from warehouse_platform.contract.table_spec import RowsFrom, TableSpec
from warehouse_platform.conventions.asset_keys import source_asset_key, stage_asset_key
from warehouse_platform.conventions.automation_conditions import daily_refresh
from warehouse_platform.conventions.labels import layer_tags, owners_of
from warehouse_platform.conventions.partitions import daily_partitions, one_day_per_run
from warehouse_platform.extract.source_comparison import compare_by_buckets
from warehouse_platform.extract.source_database import SourceDatabase
from warehouse_platform.sql import extract as extract_sql
from warehouse_platform.sql.key_sets import key_array_params
from warehouse_platform.stage.landed_files import LandedFiles
from warehouse_platform.stage.storage import Stage
from warehouse_platform.staged_files.landing_layout import landing_folder, mismatched_landed_keys
from warehouse_platform.staged_files.row_batches import CsvRecords, SnapshotFacts
from warehouse_platform.warehouse.io_manager import table_schema
from warehouse_platform.warehouse.resources import Warehouse

_LOG = logging.getLogger(__name__)

_SOURCE_DESCRIPTIONS = {
    "app.sessions": "Application table: one row per visit (session), with the user and the channel it came from.",
    "app.transactions": "Application table: purchases, at most one per session; a refund days later updates the row.",
    "app.channels": "Application table: the marketing channels the product tracks.",
    "app.users": "Application table: one row per user (signup, country); changed in place, soft-deleted.",
}


def source_tables(tables: Sequence[TableSpec]) -> list[dg.AssetSpec]:
    """The application tables the declared tables read (external: read, never materialized)."""
    readers: dict[str, list[TableSpec]] = {}
    for spec in tables:
        for t in spec.source.tables_read if spec.source else ():
            readers.setdefault(t, []).append(spec)
    return [
        dg.AssetSpec(
            key=source_asset_key(table),
            description=_SOURCE_DESCRIPTIONS.get(table, f"Application table {table}."),
            group_name="source",
            kinds={"postgres"},
            owners=owners_of(spec.owners for spec in specs),
            tags=layer_tags("source"),
            metadata={"dagster/column_schema": _columns_read(specs)},
        )
        for table, specs in readers.items()
    ]


def _columns_read(readers: Sequence[TableSpec]) -> dg.TableSchema:
    """What the platform reads of an application table: the columns its readers' contracts
    name (as the raw tables type them), each once, saying which raw tables read it. The
    application may hold more columns; they are never read."""
    read_by: dict[str, list[str]] = {}
    first: dict[str, dg.TableColumn] = {}
    for spec in readers:
        for column in table_schema(spec, spec.columns).columns:
            first.setdefault(column.name, column)
            read_by.setdefault(column.name, []).append(spec.qualified_name)
    return dg.TableSchema(columns=[
        dg.TableColumn(name, c.type, description=f"{c.description} Read into {', '.join(read_by[name])}.")
        for name, c in first.items()
    ])


class StageSourceConfig(dg.Config):
    """For tables fed by landed files: the stage keys of the files to load, all of this table and
    day (the landing sensor sets them). Tables fed by extraction take none."""

    landed_files: list[str] = []


def _refuse(spec: TableSpec, partition_key: str | None, reason: str) -> dg.Failure:
    day = f" {partition_key}" if partition_key else ""
    return dg.Failure(description=f"{spec.qualified_name}{day}: {reason}. Nothing was staged or loaded.")


def _take_landed_files(spec: TableSpec, stage: Stage, keys: list[str], partition_key: str | None) -> LandedFiles:
    """Every file present for the table and day, at its current version: the files the run was
    asked for are checked to belong here and to be present, and the day is then staged from all
    of its landed files, not only those. So a run can only add knowledge: re-executing an older
    run (over fewer files), a retry, or a run that is merely late, stages what the newest one
    would, and no file the day held is dropped from it."""
    if problems := mismatched_landed_keys(spec, keys, partition_key):
        raise _refuse(spec, partition_key, "landed files that do not belong here: " + "; ".join(problems))
    present = {
        o.key: o.etag for o in stage.list_objects(landing_folder(spec, partition_key), versions=True)
        if not mismatched_landed_keys(spec, [o.key], partition_key)
    }
    if missing := sorted(set(keys) - set(present)):
        raise _refuse(spec, partition_key, f"landed files are gone: {missing}")
    return LandedFiles(spec, tuple(sorted(present.items())))


def _extract(context: dg.AssetExecutionContext, spec: TableSpec, source_db: SourceDatabase, warehouse: Warehouse) -> CsvRecords:
    window = context.partition_time_window if spec.partitioned else None
    return extract_records(
        spec, source_db, warehouse,
        partition_key=context.partition_key if spec.partitioned else None,
        day_window=(window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)) if window else None,
        log=context.log,
    )


def extract_records(
    spec: TableSpec, source_db: SourceDatabase, warehouse: Warehouse, *, partition_key: str | None,
    day_window: tuple[datetime, datetime] | None, log=_LOG,
) -> CsvRecords:
    """The declared columns (and any the source gained, under on_new_column: add) of the day
    (`day_window`: its start and end in the source's wall-clock time), or of the rows changed
    since the newest loaded change minus the lookback (whole-table incremental), or of the whole
    table. A day of a table whose keys move between days also brings the current rows of the keys
    the warehouse holds for it that now live elsewhere (sql/extract.py, held keys)."""
    # A query's day column may be there only for the window; it is not a column to load.
    ignore = (spec.source.day_column,) if spec.source.day_column else ()
    try:
        # Columns the platform added earlier are part of the contract, as if declared: the
        # source losing one fails here, not as NULLs in every day loaded from now on.
        kept = warehouse.added_columns(spec)
        contract = spec.with_added_columns(kept)
        drift = source_contract.compare(contract, source_db.columns_of(spec), ignore)
        added = source_contract.resolve(contract, drift, added_before=[c.name for c in kept])
    except ValueError as drift:
        raise _refuse(spec, partition_key, str(drift)) from None
    if added:
        log.warning(f"{spec.qualified_name}: adding columns the source gained: {[c.name for c in added]}")
    effective = contract.with_added_columns(added)
    params: dict = {}
    since = held = reconcile = False
    if spec.partitioned:
        params = {"day_start": day_window[0], "day_end": day_window[1]}
        held = spec.moves_between_days
    elif spec.incremental is not None:
        newest = warehouse.newest_loaded_cursor(spec)
        if newest is not None:
            since = reconcile = True
            params = {"cursor_from": newest - timedelta(days=spec.incremental.lookback_days)}
    log.info(f"{spec.qualified_name}: extracting " + (
        f"rows changed since {params['cursor_from']}" if since else f"day {partition_key}" if partition_key else "the whole table"
    ))
    query = extract_sql.extract_sql(effective, since_cursor=since, held_keys=held, reconcile=reconcile)

    def after_snapshot(in_snapshot) -> SnapshotFacts:
        if held:
            return _held_keys(spec, warehouse, partition_key)
        return _reconcile_whole_table(spec, warehouse, in_snapshot) if reconcile else SnapshotFacts({})
    return CsvRecords(
        columns=effective.column_names,
        copy_to=lambda sink: source_db.copy_csv(query, params or None, sink, after_snapshot=after_snapshot),
        text_columns=effective.text_column_names, key_columns=spec.primary_key, integer_columns=effective.integer_columns,
        added_columns=tuple((c.name, c.sql_type) for c in (*kept, *added)), spec=effective,
        check_header=lambda names: extract_sql.cursor_columns_problem(effective, names),
    )


def _held_keys(spec: TableSpec, warehouse: Warehouse, partition_key: str) -> SnapshotFacts:
    """The keys the warehouse holds for the day now, as the extract's parameters, and the loads
    that wrote them."""
    rows = warehouse.keys_in_day(spec, date.fromisoformat(partition_key))
    return SnapshotFacts(key_array_params(spec, "held", [r[:-1] for r in rows]), held_load_ids=tuple(sorted({r[-1] for r in rows})))


def _reconcile_whole_table(spec: TableSpec, warehouse: Warehouse, in_snapshot) -> SnapshotFacts:
    """A whole incremental table compared with the source on every read, by buckets of keys
    (extract/source_comparison.py): rows of the buckets that differ are read whatever their
    cursor says (a change that did not move the cursor, a cursor moved back), and the keys
    raw_data holds there that the source no longer does are the deleted keys the load applies
    the delete policy to."""
    differing, diff = compare_by_buckets(spec, in_snapshot, warehouse.query, warehouse.dialect)
    return SnapshotFacts({"buckets": differing}, deleted_keys=tuple(diff.extra))


def _build_stage_asset(spec: TableSpec, days: dg.DailyPartitionsDefinition) -> dg.AssetsDefinition:
    extracted = spec.rows_from == RowsFrom.EXTRACTION
    by_day = "one day at a time " if spec.partitioned else ""

    @dg.asset(
        key=stage_asset_key(spec),
        deps=[source_asset_key(t) for t in spec.source.tables_read] if extracted else [],
        description=f"{spec.description}\n\n"
        + (
            f"Extracted from the application database {by_day}and staged as gzip CSV parts with a Redshift manifest."
            if extracted
            else f"Log lines landed under {landing_folder(spec)}, structured {by_day}by DuckDB ({spec.structuring.format.value}) "
            "into gzip CSV parts with a Redshift manifest; lines that cannot be structured are kept in rejects.jsonl "
            "beside them, with their file and line."
            if spec.structuring
            else f"Files other systems drop under {landing_folder(spec)}, staged {by_day}as they are (one gzip part "
            "per file) with a Redshift manifest."
        ),
        partitions_def=days if spec.partitioned else None,
        backfill_policy=one_day_per_run if spec.partitioned else None,
        group_name="stage",
        kinds={settings.stage_kind(), "csv"},
        owners=list(spec.owners),
        tags=layer_tags("stage"),
        # The files carry the contract's columns (not the loader's bookkeeping ones).
        metadata={"dagster/column_schema": table_schema(spec, spec.columns)},
        io_manager_key="stage_io_manager",
        code_version="1",
        automation_condition=daily_refresh() if extracted and not spec.partitioned else None,
    )
    def _stage(
        context: dg.AssetExecutionContext, config: StageSourceConfig, source_db: SourceDatabase, stage: Stage,
        warehouse: Warehouse,
    ):  # CsvRecords or LandedFiles, both written by StageIOManager (Dagster types need one class)
        partition_key = context.partition_key if spec.partitioned else None
        # The partitions start at the catalog's earliest first day; this table's may be later.
        if partition_key is not None and (too_early := day_before_history(spec, partition_key)):
            raise _refuse(spec, partition_key, f"{too_early}; it is never extracted, landed or loaded")
        if spec.rows_from == RowsFrom.LANDING:
            if not config.landed_files:
                raise _refuse(spec, partition_key, (
                    f"the table is fed by files landed under {landing_folder(spec)}, never extracted; the landing "
                    "sensor loads them (or give run config landed_files)"
                ))
            landed = _take_landed_files(spec, stage, config.landed_files, partition_key)
            joined = sorted(set(landed.keys) - set(config.landed_files))
            context.log.info(
                f"staging {len(landed.keys)} landed files: the {len(config.landed_files)} asked for"
                + (f" and {len(joined)} more present for the day: {joined}" if joined else "")
            )
            return landed
        if config.landed_files:
            raise _refuse(spec, partition_key, (
                "the table is fed by extraction from the application database, so landed files are not "
                f"loaded into it: {config.landed_files} (a day is never fed by both)"
            ))
        return _extract(context, spec, source_db, warehouse)

    return _stage


def build_defs(tables: Sequence[TableSpec]) -> dg.Definitions:
    days = daily_partitions(tables)
    return dg.Definitions(assets=[*source_tables(tables), *(_build_stage_asset(spec, days) for spec in tables)])
