"""The production deployment under deploy/: its dagster.yaml builds an instance on Postgres (with
the AWS-only parts swapped for local ones), queues runs and guards the warehouse as the local
instance does, and the image and the ECS tasks start what the README says."""

import json
import re
import shlex

import dagster as dg
import pytest
import yaml
from dagster._core.storage.dagster_run import DagsterRunStatus

from warehouse_platform import settings
from warehouse_platform.instance.config import (
    PROD_PARTS,
    render_instance_config,
    render_prod_instance_config,
    storage_by_url,
)
from warehouse_platform.warehouse.assets import WAREHOUSE_POOL

DEPLOY = settings.PROJECT_ROOT / "deploy"
CODE_LOCATION_MODULE = "warehouse_platform.definitions"


def prod_config() -> dict:
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text())


def local_equivalent(config: dict, compute_log_dir, socket_dir: str) -> dict:
    """The prod configuration with what needs AWS replaced: runs in subprocesses instead of ECS
    tasks, step logs on disk instead of S3. Everything else is the prod file as shipped."""
    config = json.loads(json.dumps(config))
    config["run_launcher"] = {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"}
    config["compute_logs"] = {
        "module": "dagster._core.storage.local_compute_log_manager",
        "class": "LocalComputeLogManager",
        "config": {"base_dir": str(compute_log_dir)},
    }
    # The embedded server listens on a unix socket only, which the URL's host cannot name
    # (dagster-postgres builds postgresql://user@HOST:port/db); libpq takes it as a parameter.
    config["storage"]["postgres"]["postgres_db"]["params"] = {"host": socket_dir}
    return config


@pytest.fixture
def dagster_db(postgres_server, monkeypatch):
    database = postgres_server.with_database("dagster")
    database.ensure_database()
    monkeypatch.setenv("DAGSTER_PG_HOST", "")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(database.port))
    monkeypatch.setenv("DAGSTER_PG_USER", database.user)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", database.password)
    monkeypatch.setenv("DAGSTER_PG_DB", database.dbname)
    return database


@pytest.fixture
def prod_instance_home(dagster_db, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = local_equivalent(prod_config(), tmp_path / "compute_logs", dagster_db.host)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return home


@dg.op
def say_hello():
    return "hello"


@dg.job
def hello():
    say_hello()


@dg.asset(pool=WAREHOUSE_POOL)
def load_in_the_warehouse_pool():
    return 1


def test_the_prod_instance_stores_runs_in_postgres_and_a_second_instance_reads_them(prod_instance_home):
    from dagster_postgres import (
        PostgresEventLogStorage,
        PostgresRunStorage,
        PostgresScheduleStorage,
    )

    with dg.DagsterInstance.from_config(str(prod_instance_home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        # A real run: its events are written to Postgres too (what breaks with SQLAlchemy 2.1).
        result = hello.execute_in_process(instance=instance)
        assert result.success
        run_id = result.run_id

    with dg.DagsterInstance.from_config(str(prod_instance_home)) as another:
        run = another.get_run_by_id(run_id)
        assert run is not None and run.status == DagsterRunStatus.SUCCESS and run.job_name == "hello"
        steps = [e for e in another.all_logs(run_id) if e.dagster_event and e.dagster_event.is_step_success]
        assert [e.step_key for e in steps] == ["say_hello"]


def test_the_prod_instance_queues_runs_one_per_day_and_caps_the_warehouse_pool(prod_instance_home):
    with dg.DagsterInstance.from_config(str(prod_instance_home)) as instance:
        from dagster._core.run_coordinator import QueuedRunCoordinator

        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        run_limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert list(run_limits) == [
            {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
        ]
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == prod_config()["concurrency"]["pools"]["default_limit"] > 0
        assert pools.pool_granularity.value == "op"  # the cap counts load steps, not whole runs
        # The first step that asks for the warehouse pool creates it with the default limit:
        # nobody has to run `dagster instance concurrency set` for the cap to hold.
        assert dg.materialize([load_in_the_warehouse_pool], instance=instance).success
        assert instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == pools.default_pool_limit


def test_the_prod_instance_fails_lost_runs_and_retries_them_once(prod_instance_home):
    with dg.DagsterInstance.from_config(str(prod_instance_home)) as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_monitoring_poll_interval_seconds > 0
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1


def test_deploy_dagster_yaml_is_the_current_rendering_of_the_one_instance_template():
    # Regenerate with `warehouse-platform instance-config --prod > deploy/dagster.yaml`.
    assert (DEPLOY / "dagster.yaml").read_text() == render_prod_instance_config()


def test_prod_and_local_instances_differ_only_in_storage_connection_run_launcher_and_step_logs(tmp_path):
    prod = prod_config()
    local = yaml.safe_load(render_instance_config(storage_by_url("postgresql://postgres:@/dagster?host=/s"), tmp_path))
    differ = {name for name in set(prod) | set(local) if prod.get(name) != local.get(name)}
    assert differ == {"storage", "run_launcher", "compute_logs"}
    assert list(prod["storage"]) == list(local["storage"]) == ["postgres"]  # one storage kind
    assert PROD_PARTS.run_launcher in render_prod_instance_config()


def test_the_prod_instance_uses_ecs_s3_logs_and_reads_every_setting_from_the_environment():
    prod = prod_config()
    assert (prod["run_launcher"]["module"], prod["run_launcher"]["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    assert prod["compute_logs"]["class"] == "S3ComputeLogManager"
    assert prod["compute_logs"]["config"]["bucket"] == {"env": "DAGSTER_COMPUTE_LOGS_BUCKET"}
    connection = prod["storage"]["postgres"]["postgres_db"]
    assert connection == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USER"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
    }
    # Secrets reach run tasks through Secrets Manager, never as plain overrides.
    assert "DAGSTER_PG_PASSWORD" not in prod["run_launcher"]["config"]["env_vars"]


def test_every_raw_load_and_only_the_raw_loads_run_in_the_warehouse_pool(platform_env):
    from warehouse_platform.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    pools = {node.key: node.pools for node in graph.asset_nodes if node.is_executable}
    raw = {key for key in pools if graph.get(key).group_name == "raw_data"}
    assert raw
    assert {key for key, node_pools in pools.items() if WAREHOUSE_POOL in (node_pools or ())} == raw


def test_the_image_and_the_ecs_code_server_start_the_same_code_location():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert re.search(r"^EXPOSE 4000$", dockerfile, re.M)
    image_command = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))
    code_server = json.loads((DEPLOY / "ecs" / "code-server.json").read_text())["containerDefinitions"][0]
    assert code_server["command"] == image_command
    assert image_command[:3] == ["dagster", "code-server", "start"]
    assert image_command[image_command.index("-m") + 1] == CODE_LOCATION_MODULE
    assert image_command[image_command.index("-p") + 1] == "4000"
    assert code_server["portMappings"][0]["containerPort"] == 4000
    # The run launcher starts runs from the image the code server reports.
    assert {"name": "DAGSTER_CURRENT_IMAGE", "value": code_server["image"]} in code_server["environment"]


@pytest.mark.parametrize("task", ["code-server", "webserver", "daemon"])
def test_ecs_tasks_take_secrets_from_secrets_manager_only(task):
    container = json.loads((DEPLOY / "ecs" / f"{task}.json").read_text())["containerDefinitions"][0]
    plain = {e["name"] for e in container["environment"]}
    assert not {n for n in plain if re.search("PASSWORD|DSN|SECRET", n)}, plain
    assert "DAGSTER_PG_PASSWORD" in {s["name"] for s in container["secrets"]}
    assert all(s["valueFrom"].startswith("arn:aws:secretsmanager:") for s in container["secrets"])
    # webserver and daemon read the instance and the workspace shipped in the image.
    if task != "code-server":
        assert "/opt/dagster/home/workspace.yaml" in shlex.join(container["command"])


def test_the_daemon_task_has_every_setting_the_run_launcher_passes_to_run_tasks():
    daemon = json.loads((DEPLOY / "ecs" / "daemon.json").read_text())["containerDefinitions"][0]
    launcher = prod_config()["run_launcher"]["config"]
    assert set(launcher["env_vars"]) <= {e["name"] for e in daemon["environment"]}


def test_the_prod_only_parts_are_valid_config_of_the_classes_they_name(monkeypatch):
    """What the local instance swaps out is still checked: the ECS launcher and S3 log manager
    named in the prod file exist and accept its config (as the daemon will on start)."""
    import importlib

    from dagster._config import process_config
    from dagster._config.field import resolve_to_config_type

    for name in ("DAGSTER_COMPUTE_LOGS_BUCKET", "DAGSTER_COMPUTE_LOGS_PREFIX"):
        monkeypatch.setenv(name, "example")
    prod = prod_config()
    for part in ("run_launcher", "compute_logs"):
        cls = getattr(importlib.import_module(prod[part]["module"]), prod[part]["class"])
        result = process_config(resolve_to_config_type(cls.config_type()), prod[part]["config"])
        assert result.success, result.errors
