"""Helpers to run the real code location against the environment a test set up."""

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from warehouse_platform.definitions import build_definitions
from warehouse_platform.extract.source_seed import seed_source_database
from warehouse_platform.lib.session_generator import GeneratorConfig
from warehouse_platform.lib.table_spec import TableSpec


def platform_definitions(tables: Sequence[TableSpec] | None = None, dbt_project_dir: Path | None = None) -> dg.Definitions:
    """The code location (the defs folder, or these tables and dbt project) bound to the
    environment the test set up."""
    return build_definitions(tables, dbt_project_dir=dbt_project_dir)


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

