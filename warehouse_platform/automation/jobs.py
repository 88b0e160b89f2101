"""Jobs: what runs together.

extract_and_load_day   extract + stage + load of the day-partitioned tables fed by extraction, one day per run
load_whole_tables      the extracted unpartitioned tables (channel replaced whole, users upserted
                       incrementally), each its own step
build_analytics        every dbt model, exports
check_tables           every check that is not per day (skew, the dimensions, dbt tests), no loading
sweep_abandoned_loads  maintenance: drop load tables left by killed loads (no live load owns them)
The per-day checks run with extract_and_load_day; re-running a loaded day repeats them only.
Tables fed by landed files are in none of these: only the landing sensor loads them, so the daily
schedule and backfills never extract over a landed day.
"""


from collections.abc import Sequence

import dagster as dg

from warehouse_platform.contract.table_spec import RowsFrom, TableSpec
from warehouse_platform.conventions import check_names
from warehouse_platform.conventions.asset_keys import raw_asset_key, stage_asset_key
from warehouse_platform.warehouse.resources import Warehouse


def _layers(specs: Sequence[TableSpec]) -> list[dg.AssetKey]:
    return [key for s in specs for key in (stage_asset_key(s), raw_asset_key(s))]


def per_day_checks(tables: Sequence[TableSpec]) -> list[dg.AssetCheckKey]:
    """The checks that run with every load of a day (extract_and_load_day, the landing runs):
    re-running the day's load repeats them without changing data (the ledger finds every file
    already loaded). Everything else is in check_tables. Skew is a property of the whole table,
    so it is not among them."""
    return [
        *(dg.AssetCheckKey(raw_asset_key(s), name) for s in tables if s.partitioned for name in (
            check_names.DUPLICATE_PRIMARY_KEYS, check_names.ROWS_STAGED_EQUAL_ROWS_LOADED, check_names.ROW_VOLUME)),
        *(dg.AssetCheckKey(raw_asset_key(s), check_names.SOURCE_PARITY) for s in tables if s.partitioned and s.rows_from == RowsFrom.EXTRACTION and s.source),
        *(dg.AssetCheckKey(stage_asset_key(s), check_names.REDSHIFT_TYPE_LIMITS) for s in tables if s.partitioned),
    ]


def build_jobs(tables: Sequence[TableSpec]) -> list[dg.JobDefinition]:
    """The jobs of the catalog `tables`: extract_and_load_day, load_whole_tables (only when the
    catalog has a whole table fed by extraction), build_analytics, check_tables."""
    extracted = [s for s in tables if s.rows_from == RowsFrom.EXTRACTION]
    daily = [s for s in extracted if s.partitioned]
    reference = [s for s in extracted if not s.partitioned]

    extract_and_load_day = dg.define_asset_job(
        "extract_and_load_day",
        selection=dg.AssetSelection.assets(*_layers(daily)),
        description="Extract one day of every daily table fed by extraction from the application database, stage it, and load raw_data.",
    )
    # The whole tables and the models are two jobs, not one: in one run, Dagster skips every step
    # downstream of a failed one, so one whole table that failed to load (a column dropped at the
    # source) would stop every dbt model, also those that never read it. Apart, a failing table
    # fails its own step and run; build_analytics (or declarative automation, model by model)
    # builds the models over what is loaded.
    load_whole_tables = dg.define_asset_job(
        "load_whole_tables",
        selection=dg.AssetSelection.assets(*_layers(reference)),
        description=(
            "Reload the unpartitioned tables fed by extraction (the channel dimension replaced whole; the users changed "
            "since the last load), each its own step: one that fails does not stop the others. Declarative automation "
            "then rebuilds the analytics that read them."
        ),
    )
    build_analytics = dg.define_asset_job(
        "build_analytics",
        selection=dg.AssetSelection.groups("analytics", "exports"),
        description=(
            "Rebuild every analytics model with dbt (tests included) over what raw_data holds, and export the reporting "
            "tables to the stage. A model that fails skips only the models that read it (dbt goes on)."
        ),
    )
    daily_checks = per_day_checks(tables)
    check_tables = dg.define_asset_job(
        "check_tables",
        selection=dg.AssetSelection.all_asset_checks() - dg.AssetSelection.checks(*daily_checks),
        description="Every check that is not per day, without loading anything: skew of every raw table, "
        "the channel dimension's checks and the dbt tests.",
    )
    return [extract_and_load_day, *([load_whole_tables] if reference else []), build_analytics, check_tables]


class SweepConfig(dg.Config):
    schemas: list[str] = ["raw_data"]


@dg.op(description="Drop the load tables of killed loads; a live load's table is never touched.")
def sweep_abandoned_load_tables(context: dg.OpExecutionContext, config: SweepConfig, warehouse: Warehouse) -> list[str]:
    dropped = [table for schema in config.schemas for table in warehouse.sweep_abandoned_loads(schema)]
    context.log.info(f"dropped {len(dropped)} abandoned load tables: {dropped}" if dropped else "no abandoned load tables")
    return dropped


@dg.job(
    description=(
        "Maintenance: drop load tables that killed loads left behind (the next load of a table also does this "
        "for its own table). Safe at any time: a table whose load is still running is kept."
    ),
)
def sweep_abandoned_loads():
    sweep_abandoned_load_tables()
