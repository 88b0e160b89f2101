"""The code location loads, shows the lineage of the design, and validates with Dagster's CLI."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import PyProjectFileTarget, WorkspaceFileTarget

from warehouse_platform.definitions import build_definitions
from warehouse_platform.settings import PROJECT_ROOT

RAW = ["user_session_channel", "session_timestamp", "session_transaction", "channel"]
MODELS = ["session_summary", "channel_summary", "mau", "user_channel_attribution"]


def _graph():
    return build_definitions().resolve_asset_graph()


def test_asset_keys_follow_storage_paths():
    keys = {k.to_user_string() for k in _graph().get_all_asset_keys()}
    expected = (
        {f"stage/raw_data/{t}" for t in RAW}
        | {f"raw_data/{t}" for t in RAW}
        | {f"analytics/{m}" for m in MODELS}
        | {"source/app/sessions", "source/app/transactions", "source/app/channels", "source/app/users"}
        | {"stage/exports/channel_summary", "stage/exports/mau"}
    )
    assert expected <= keys


def test_lineage_runs_source_to_stage_to_raw_to_analytics():
    graph = _graph()
    parents = lambda key: {p.to_user_string() for p in graph.get(dg.AssetKey.from_user_string(key)).parent_keys}  # noqa: E731
    for table in RAW:
        assert parents(f"raw_data/{table}") == {f"stage/raw_data/{table}"}
    # Lineage comes from each table's declared source (tables_read).
    assert parents("stage/raw_data/session_transaction") == {"source/app/transactions"}
    assert parents("stage/raw_data/users") == {"source/app/users"}
    assert {f"raw_data/{t}" for t in RAW} <= parents("analytics/session_summary")
    for model in ("channel_summary", "mau", "user_channel_attribution"):
        assert parents(f"analytics/{model}") == {"analytics/session_summary"}
    assert parents("stage/exports/channel_summary") == {"analytics/channel_summary"}


def test_groups_kinds_partitions_and_descriptions():
    graph = _graph()
    node = graph.get(dg.AssetKey(["raw_data", "session_timestamp"]))
    assert node.group_name == "raw_data" and "postgres" in node.kinds
    assert node.partitions_def is not None and graph.get(dg.AssetKey(["raw_data", "channel"])).partitions_def is None
    assert "csv" in graph.get(dg.AssetKey(["stage", "raw_data", "channel"])).kinds
    assert "dbt" in graph.get(dg.AssetKey(["analytics", "mau"])).kinds
    for key in graph.get_all_asset_keys():
        assert graph.get(key).description, f"{key.to_user_string()} has no description for the UI"


def test_dbt_tests_are_asset_checks_on_their_models():
    check_keys = {(k.asset_key.to_user_string(), k.name) for k in _graph().asset_check_keys}
    assert ("analytics/session_summary", "unique_session_summary_sessionid") in check_keys
    assert ("analytics/user_channel_attribution", "unique_user_channel_attribution_userid") in check_keys


def test_resources_use_the_same_keys_in_every_environment(monkeypatch):
    from warehouse_platform import environment

    local = set(environment.build_resources())
    monkeypatch.setenv("PLATFORM_ENV", "prod")
    monkeypatch.setenv("PLATFORM_STAGE_URL", "s3://company-stage/warehouse")
    monkeypatch.setenv("PLATFORM_SOURCE_DSN", "host=app.internal dbname=app")
    prod = environment.build_resources()
    assert set(prod) == local == {"source_db", "stage", "warehouse", "stage_io_manager", "warehouse_io_manager", "dbt"}
    assert type(prod["warehouse"]).__name__ == "RedshiftWarehouse"
    assert type(prod["stage"]).__name__ == "S3Stage"


def _dg(*args: str, cwd=PROJECT_ROOT, home=None) -> subprocess.CompletedProcess:
    """The `dg` beside this interpreter, as `make validate` and a developer run it."""
    env = {**os.environ, "DAGSTER_HOME": str(home or cwd), "PYTHONPATH": str(PROJECT_ROOT)}
    dg_cli = str(Path(sys.executable).parent / "dg")
    return subprocess.run([dg_cli, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def test_dg_checks_the_catalog_yaml_and_loads_the_definitions_from_the_repository_root(tmp_path):
    yaml_check = _dg("check", "yaml", home=tmp_path)
    assert yaml_check.returncode == 0, yaml_check.stdout + yaml_check.stderr
    defs_check = _dg("check", "defs", home=tmp_path)
    assert defs_check.returncode == 0, defs_check.stdout + defs_check.stderr
    assert "All definitions loaded successfully" in defs_check.stdout + defs_check.stderr


def test_daily_assets_backfill_one_day_per_run_and_runs_execute_in_process():
    graph = _graph()
    for key in (["stage", "raw_data", "session_timestamp"], ["raw_data", "session_timestamp"]):
        policy = graph.get(dg.AssetKey(key)).backfill_policy
        assert policy is not None and policy.max_partitions_per_run == 1
    assert build_definitions().resolve_job_def("extract_and_load_day").executor_def.name == "in_process"


def test_the_top_level_workspace_yaml_loads_the_code_location_dg_dev_serves(platform_env, monkeypatch):
    """`dagster dev -w workspace.yaml` beside `dg dev`: the webserver's workspace loading, from
    the file at the repository root, starts the same code location the dg project declares and
    serves its jobs and assets."""
    monkeypatch.chdir(PROJECT_ROOT)  # where `dagster dev -w workspace.yaml` is run (working_directory: .)
    target = WorkspaceFileTarget(paths=[str(PROJECT_ROOT / "workspace.yaml")])
    [from_file] = target.create_origins()
    [from_dg] = PyProjectFileTarget(path=str(PROJECT_ROOT / "pyproject.toml")).create_origins()
    assert from_file.location_name == from_dg.location_name
    loaded, declared = from_file.loadable_target_origin, from_dg.loadable_target_origin
    assert (loaded.module_name, loaded.attribute, Path(loaded.working_directory).resolve()) == (
        declared.module_name, declared.attribute, Path(declared.working_directory).resolve(),
    )

    defs = build_definitions()
    with dg.instance_for_test() as instance, WorkspaceProcessContext(instance, target) as process:
        workspace = process.create_request_context()
        assert workspace.get_code_location_error(from_dg.location_name) is None
        repository = workspace.get_code_location(from_dg.location_name).get_repository("__repository__")
        assert {job.name for job in repository.get_all_jobs()} == {job.name for job in defs.resolve_all_job_defs()}
        assert {node.asset_key for node in repository.get_asset_node_snaps()} == defs.resolve_asset_graph().get_all_asset_keys()
        declared = defs.get_repository_def()
        assert {s.name for s in repository.get_schedules()} == {s.name for s in declared.schedule_defs}
        assert {s.name for s in repository.get_sensors()} == {s.name for s in declared.sensor_defs}
