"""Helpers to run the real code location against the environment a test set up."""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from warehouse_platform.catalog import load_catalog
from warehouse_platform.contract.table_spec import RowsFrom, TableSpec
from warehouse_platform.definitions import build_definitions
from warehouse_platform.sample_data.session_generator import GeneratorConfig
from warehouse_platform.sample_data.source_seed import seed_source_database


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


def landing_fed_tables() -> list[str]:
    """The catalog's tables loaded from landed files: the landing sensor requests one run per
    such table and landed day."""
    return [spec.name for spec in load_catalog() if spec.rows_from == RowsFrom.LANDING]


def job_check_keys(defs: dg.Definitions, name: str) -> set[tuple[str, str]]:
    """(asset, check name) of every check the job runs, as the definitions declare them: what a
    test expects evaluated, without a count copied from a run's output."""
    checks = defs.resolve_job_def(name).asset_layer.asset_graph.asset_check_keys
    return {(key.asset_key.to_user_string(), key.name) for key in checks}


def materialization_metadata(result, key: list[str]) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)]
    return {k: v.value for k, v in event.materialization.metadata.items()}



def land_in_folder(stage_root: Path, files) -> None:
    """Drop files (anything with .key and .data, e.g. the log generator's) into the folder stage."""
    for f in files:
        path = stage_root / f.key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)


def landing_requests(defs: dg.Definitions, instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    """One tick of the landing sensor against a real instance: the runs it requests."""
    sensor = defs.get_sensor_def("landing_files")
    with dg.build_sensor_context(instance=instance, resources={"stage": defs.resources["stage"]}) as context:
        result = sensor(context)
    return list(result.run_requests) if isinstance(result, dg.SensorResult) else []


def reread_days_that_differ(defs: dg.Definitions, instance: dg.DagsterInstance) -> list:
    """One tick of the days_that_differ_from_the_source sensor, and the runs it requests, run."""
    sensor = defs.get_sensor_def("days_that_differ_from_the_source")
    resources = {"source_db": defs.resources["source_db"], "warehouse": defs.resources["warehouse"]}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = sensor(context)
    requests = list(result.run_requests) if isinstance(result, dg.SensorResult) else []
    return [run_request(defs, instance, request) for request in requests]


def run_request(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest, raise_on_error: bool = True):
    """Run what a sensor requested, as the daemon would (its partition, selection, config, tags)."""
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=request.partition_key, asset_selection=list(request.asset_selection),
        run_config=request.run_config, tags={**request.tags, "dagster/run_key": request.run_key},
        raise_on_error=raise_on_error,
    )


def step_failure_message(result) -> str:
    """The failed step's error with its causes, as the run's page shows them."""
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    messages, error = [], failure.step_failure_data.error
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)


@contextmanager
def code_location_workspace(instance: dg.DagsterInstance) -> Iterator:
    """The code location loaded in this process as `dg dev` serves it (the defs folder, under
    the platform's location name), over `instance`: the workspace the UI's GraphQL reads."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    from warehouse_platform.instance.runs import CODE_LOCATION
    from warehouse_platform.settings import PROJECT_ROOT

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="warehouse_platform.definitions", attribute="defs", working_directory=str(PROJECT_ROOT)),
        location_name=CODE_LOCATION,
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as process_context:
        yield process_context


def graphql_of(process_context) -> Callable[..., dict]:
    """Answers any query the webapp sends, as the webserver would (its data)."""
    from dagster_graphql.test.utils import execute_dagster_graphql

    return lambda query, variables=None: execute_dagster_graphql(process_context.create_request_context(), query, variables).data
