"""Asset checks on the raw tables: what Redshift never enforces or reports by itself.

per raw table
  duplicate_primary_keys          ERROR, blocking: analytics does not build on duplicated keys
  distribution_skew               WARN: slice skew of the DISTKEY, with a suggested distribution
  rows_staged_equal_rows_loaded   ERROR: manifest = ledger = table, per file
  row_volume                      day-partitioned tables: WARN on a sharp drop against the trailing
                                  days, ERROR on an empty day after non-empty ones
per stage asset
  redshift_type_limits            ERROR, blocking: every text value fits its VARCHAR in bytes
Day-partitioned tables are checked per day; skew is a property of the whole table.
"""

import dagster as dg

from warehouse_platform.extract.assets import stage_asset_key
from warehouse_platform.lib.skew import DEFAULT_SKEW_THRESHOLD, SMALL_TABLE_ROWS
from warehouse_platform.lib.staged_files import StagedBatch
from warehouse_platform.lib.table_spec import TableSpec
from warehouse_platform.partitions import daily_partitions
from warehouse_platform.quality import check_names, evaluations
from warehouse_platform.stage.io_manager import read_staged_batch
from warehouse_platform.stage.storage import Stage
from warehouse_platform.warehouse.assets import raw_asset_key
from warehouse_platform.warehouse.raw_tables import RAW_TABLES
from warehouse_platform.warehouse.resources import Warehouse


class SkewCheckConfig(dg.Config):
    threshold: float = DEFAULT_SKEW_THRESHOLD
    # Tables up to this size are suggested DISTSTYLE ALL.
    small_table_rows: int = SMALL_TABLE_ROWS


def _build_checks(spec: TableSpec) -> list[dg.AssetChecksDefinition]:
    partitions = daily_partitions if spec.partitioned else None
    key = ", ".join(spec.primary_key)

    def partition_of(context: dg.AssetCheckExecutionContext) -> str | None:
        return context.partition_key if partitions else None

    @dg.asset_check(
        asset=raw_asset_key(spec), name=check_names.DUPLICATE_PRIMARY_KEYS, blocking=True, partitions_def=partitions,
        description=f"({key}) must be unique. Redshift does not enforce primary keys; its planner assumes them.",
    )
    def duplicate_primary_keys(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        return evaluations.table_missing(warehouse, spec, dg.AssetCheckSeverity.ERROR) or evaluations.duplicate_primary_keys(
            warehouse, spec, partition_of(context)
        )

    @dg.asset_check(
        asset=raw_asset_key(spec), name=check_names.DISTRIBUTION_SKEW,
        description="Rows per slice under the DISTKEY; warns at AWS's 4.00 skew and suggests a distribution.",
    )
    def distribution_skew(config: SkewCheckConfig, warehouse: Warehouse) -> dg.AssetCheckResult:
        return evaluations.table_missing(warehouse, spec, dg.AssetCheckSeverity.WARN) or evaluations.distribution_skew(
            warehouse, spec, config.threshold, config.small_table_rows
        )

    @dg.asset_check(
        asset=raw_asset_key(spec), name=check_names.ROWS_STAGED_EQUAL_ROWS_LOADED, partitions_def=partitions,
        additional_ins={"staged": dg.AssetIn(stage_asset_key(spec))},
        description="Every staged file is in the load ledger with its row count, and the table holds what was loaded.",
    )
    def rows_staged_equal_rows_loaded(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse, staged: StagedBatch
    ) -> dg.AssetCheckResult:
        return evaluations.rows_staged_equal_rows_loaded(warehouse, spec, partition_of(context), staged)

    @dg.asset_check(
        asset=stage_asset_key(spec), name=check_names.REDSHIFT_TYPE_LIMITS, blocking=True, partitions_def=partitions,
        description="Widest text value per column in UTF-8 bytes against its VARCHAR (and Redshift's 65,535).",
    )
    def redshift_type_limits(context: dg.AssetCheckExecutionContext, stage: Stage) -> dg.AssetCheckResult:
        return evaluations.redshift_type_limits(spec, read_staged_batch(stage, stage_asset_key(spec), partition_of(context)))

    checks = [duplicate_primary_keys, distribution_skew, rows_staged_equal_rows_loaded, redshift_type_limits]
    if not spec.partitioned:
        return checks

    @dg.asset_check(
        asset=raw_asset_key(spec), name=check_names.ROW_VOLUME, partitions_def=partitions,
        description="A day's rows against the loaded days before it: WARN below half their median, ERROR on an empty day.",
    )
    def row_volume(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        return evaluations.table_missing(warehouse, spec, dg.AssetCheckSeverity.ERROR) or evaluations.row_volume_of_day(
            warehouse, spec, partition_of(context)
        )

    return [*checks, row_volume]


raw_table_checks = [check for spec in RAW_TABLES for check in _build_checks(spec)]

defs = dg.Definitions(asset_checks=raw_table_checks)
