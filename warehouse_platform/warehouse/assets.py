"""raw_data: the application's data as loaded into the warehouse, one asset per table.

Each asset reads its staged batch (manifest) and hands it, with what the run allows (RawLoadConfig),
with the table's spec (its catalog entry) to WarehouseIOManager, which COPYs it into
raw_data.<table> under that spec and the load ledger.
"""

from collections.abc import Sequence

import dagster as dg
from pydantic import Field

from warehouse_platform import settings
from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.conventions.asset_keys import raw_asset_key, stage_asset_key
from warehouse_platform.conventions.automation_conditions import rebuild_after_raw_loads
from warehouse_platform.conventions.freshness_policy import DAILY_FRESHNESS
from warehouse_platform.conventions.labels import layer_tags, warehouse_table_name
from warehouse_platform.conventions.partitions import daily_partitions, one_day_per_run
from warehouse_platform.rules.data_version import files_version
from warehouse_platform.stage.io_manager import STAGE_FOLDER
from warehouse_platform.staged_files.manifest import StagedBatch, table_folder
from warehouse_platform.warehouse.io_manager import TABLE, table_schema
from warehouse_platform.warehouse.load_request import StagedLoad


class RawLoadConfig(dg.Config):
    allow_shrink: bool = Field(
        default=False,
        description=(
            "Let this run replace a loaded day (or the whole table) with less than half its rows, or none. "
            "Off: such a load fails and changes nothing, so an empty or broken extract never wipes data."
        ),
    )


# The raw loads (COPY into the warehouse) share one concurrency pool: the instance caps how many
# run at once, whatever the number of runs (deploy/dagster.yaml, `concurrency: pools:`).
WAREHOUSE_POOL = "warehouse"


def _build_raw_asset(spec: TableSpec, days: dg.DailyPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_asset_key(spec),
        ins={"staged": dg.AssetIn(key=stage_asset_key(spec), metadata={STAGE_FOLDER: table_folder(spec)})},
        description=(
            f"{spec.description}\n\nLoad: {spec.mode.value}"
            + (" by day" if spec.partitioned else "")
            + f"; logical key ({', '.join(spec.primary_key)}), not enforced by the warehouse."
        ),
        partitions_def=days if spec.partitioned else None,
        backfill_policy=one_day_per_run if spec.partitioned else None,
        group_name="raw_data",
        kinds={settings.warehouse_kind(), "table"},
        owners=list(spec.owners),
        tags=layer_tags("raw"),
        io_manager_key="warehouse_io_manager",
        # Daily tables: quality/newest_day.py judges the newest loaded day instead.
        freshness_policy=None if spec.partitioned else DAILY_FRESHNESS,
        automation_condition=None if spec.partitioned else rebuild_after_raw_loads,
        metadata={
            TABLE: spec.qualified_name,
            "dagster/table_name": warehouse_table_name(spec.schema, spec.name),
            # Also before the first load (each load records the columns it loaded).
            "dagster/column_schema": table_schema(spec),
            "primary_key": ", ".join(spec.primary_key),
            "load_mode": spec.mode.value,
            "distribution": f"DISTSTYLE {spec.dist_style.value}" + (f" DISTKEY({spec.dist_key})" if spec.dist_key else ""),
        },
        code_version="1",
        pool=WAREHOUSE_POOL,
    )
    def _raw(context: dg.AssetExecutionContext, config: RawLoadConfig, staged: StagedBatch) -> dg.Output[StagedLoad]:
        context.log.info(f"{spec.qualified_name}: {staged.row_count} rows in {len(staged.parts)} staged files")
        if config.allow_shrink:
            context.log.warning(f"{spec.qualified_name}: this run may replace loaded rows with far fewer, or none")
        # The load (the IO manager) makes these files the ledger's content, or the step fails.
        return dg.Output(
            StagedLoad(spec, staged, allow_shrink=config.allow_shrink),
            data_version=dg.DataVersion(files_version(p.checksum for p in staged.parts)),
        )

    return _raw


def build_defs(tables: Sequence[TableSpec]) -> dg.Definitions:
    days = daily_partitions(tables)
    return dg.Definitions(assets=[_build_raw_asset(spec, days) for spec in tables])
