"""Helpers to run the real code location against the environment a test set up."""

from collections.abc import Sequence
from datetime import date, timedelta

import dagster as dg

from warehouse_platform.extract.source_seed import seed_source_database
from warehouse_platform.lib.session_generator import GeneratorConfig
from warehouse_platform.lib.table_spec import TableSpec
from warehouse_platform.runtime import current_definitions
from warehouse_platform.warehouse.raw_tables import RAW_TABLES


def platform_definitions(tables: Sequence[TableSpec] = RAW_TABLES) -> dg.Definitions:
    """The code location (for these tables) bound to the environment the test set up."""
    return current_definitions(tables)


def seed(source_endpoint, first_day: date, days: int, config: GeneratorConfig) -> None:
    seed_source_database(source_endpoint, [first_day + timedelta(days=i) for i in range(days)], config)


def run_job(defs: dg.Definitions, name: str, instance: dg.DagsterInstance, partition_key: str | None = None):
    result = defs.resolve_job_def(name).execute_in_process(
        instance=instance, partition_key=partition_key,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    assert result.success
    return result


def materialization_metadata(result, key: list[str]) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)]
    return {k: v.value for k, v in event.materialization.metadata.items()}
