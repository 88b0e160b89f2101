"""Extract: the application's tables, and the staged files extracted from them.

One stage asset per raw table; its IO manager (StageIOManager) writes the rows as gzip CSV
parts plus a manifest, in the local folder or on S3.
"""



import dagster as dg

from warehouse_platform import environment
from warehouse_platform.automation.conditions import daily_refresh
from warehouse_platform.extract.source_database import SourceDatabase
from warehouse_platform.extract.source_queries import EXTRACT_QUERIES, SOURCE_TABLES_READ
from warehouse_platform.lib.row_batches import RowBatches
from warehouse_platform.lib.table_spec import TableSpec
from warehouse_platform.partitions import daily_partitions, one_day_per_run
from warehouse_platform.stage.landed_files import read_landed_rows
from warehouse_platform.stage.storage import Stage
from warehouse_platform.warehouse.raw_tables import RAW_TABLES

_SOURCE_DESCRIPTIONS = {
    "sessions": "Application table: one row per visit (session), with the user and the channel it came from.",
    "transactions": "Application table: purchases, at most one per session, with refunds flagged.",
    "channels": "Application table: the marketing channels the product tracks.",
}

source_tables = [
    dg.AssetSpec(
        key=["source", "app", name],
        description=description,
        group_name="source",
        kinds={"postgres"},
    )
    for name, description in _SOURCE_DESCRIPTIONS.items()
]


def stage_asset_key(spec: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(["stage", spec.schema, spec.name])


class StageSourceConfig(dg.Config):
    """Where the rows come from: the application database (default), or files other systems
    dropped under landing/ (set by the landing sensor; stage keys, all of one table and day)."""

    landed_files: list[str] = []


def _build_stage_asset(spec: TableSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=stage_asset_key(spec),
        deps=[dg.AssetKey(["source", "app", t]) for t in SOURCE_TABLES_READ[spec.name]],
        description=(
            f"{spec.description}\n\nExtracted from the application database "
            + ("one day at a time " if spec.partitioned else "")
            + "and staged as gzip CSV parts with a Redshift manifest (or collected from files "
            + f"dropped under landing/{spec.name}/)."
        ),
        partitions_def=daily_partitions if spec.partitioned else None,
        backfill_policy=one_day_per_run if spec.partitioned else None,
        group_name="stage",
        kinds={environment.stage_kind(), "csv"},
        io_manager_key="stage_io_manager",
        code_version="1",
        automation_condition=None if spec.partitioned else daily_refresh,
    )
    def _stage(
        context: dg.AssetExecutionContext, config: StageSourceConfig, source_db: SourceDatabase, stage: Stage
    ) -> RowBatches:
        if config.landed_files:
            context.log.info(f"staging {len(config.landed_files)} landed files: {config.landed_files}")
            batches = read_landed_rows(stage, config.landed_files, spec)
        else:
            params = None
            if spec.partitioned:
                window = context.partition_time_window
                params = {"day_start": window.start.replace(tzinfo=None), "day_end": window.end.replace(tzinfo=None)}
            batches = source_db.stream(EXTRACT_QUERIES[spec.name], params)
        return RowBatches(
            columns=spec.column_names, batches=batches, text_columns=spec.text_column_names, key_columns=spec.primary_key
        )

    return _stage


stage_assets = [_build_stage_asset(spec) for spec in RAW_TABLES]

defs = dg.Definitions(assets=[*source_tables, *stage_assets])
