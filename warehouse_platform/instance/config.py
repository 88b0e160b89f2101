"""Renders the one dagster.yaml template (dagster.yaml.template) for both instances.

Local: every entry point calls `prepare_dagster_home`, which starts the embedded Postgres,
creates the `dagster` database on it if missing and writes DAGSTER_HOME/dagster.yaml, before
any Dagster process starts (make dev: webserver and daemon; the demo and CLI runs). Where
DAGSTER_HOME is, settings.dagster_home() decides.
Prod: `render_prod_instance_config()` is deploy/dagster.yaml (written by `warehouse-platform
instance-config --prod`, compared by test_deploy.py).

Only three parts differ; everything else (storage kind, run queue, pools, run monitoring, run
retries) is the template's, once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import quote

TEMPLATE = Path(__file__).with_name("dagster.yaml.template")

# How often the daemon checks run workers, and how long any run may take at most.
POLL_INTERVAL_SECONDS = 30
MAX_RUNTIME_SECONDS = 6 * 3600
# Concurrent load steps against the warehouse (the `warehouse` pool's default limit).
WAREHOUSE_POOL_LIMIT = 4

# The database on the embedded server that holds Dagster's storage (beside `app` and `warehouse`).
DAGSTER_DATABASE = "dagster"
# Optional: another Postgres for the local instance's storage, as a URL (postgresql://...). The
# rendered file names the variable, never its value (a URL may carry a password).
STORAGE_URL_VARIABLE = "PLATFORM_DAGSTER_STORAGE_URL"


@dataclass(frozen=True)
class InstanceParts:
    header: str
    storage_connection: str  # under `storage: postgres:`, indented 4
    run_launcher: str
    compute_logs: str


PROD_PARTS = InstanceParts(
    header=(
        "# The production Dagster instance: mount it as $DAGSTER_HOME/dagster.yaml in the webserver, the\n"
        "# daemon and every run task (the image in deploy/Dockerfile copies it there).\n"
        "# No secrets here: every connection setting comes from the environment (docs/deployment.md)."
    ),
    storage_connection="""\
    postgres_db:
      hostname:
        env: DAGSTER_PG_HOST
      port:
        env: DAGSTER_PG_PORT
      username:
        env: DAGSTER_PG_USER
      password:
        env: DAGSTER_PG_PASSWORD
      db_name:
        env: DAGSTER_PG_DB""",
    run_launcher="""\
# One ECS task per run: a task definition derived from the launching task (the daemon's: its
# cluster, subnets, security groups and task role) with the code server's image (its
# DAGSTER_CURRENT_IMAGE). The daemon's task role is therefore also the runs' role.
run_launcher:
  module: dagster_aws.ecs
  class: EcsRunLauncher
  config:
    use_current_ecs_task_config: true
    run_resources:
      cpu: "1024"
      memory: "4096"
    # Settings the run task needs, copied from the launching process's environment (not secret).
    env_vars:
      - DAGSTER_PG_HOST
      - DAGSTER_PG_PORT
      - DAGSTER_PG_USER
      - DAGSTER_PG_DB
      - DAGSTER_COMPUTE_LOGS_BUCKET
      - DAGSTER_COMPUTE_LOGS_PREFIX
      - PLATFORM_ENV
      - PLATFORM_STAGE_URL
      - PLATFORM_SLICE_COUNT
      - PLATFORM_TIMEZONE
      - AWS_REGION
      - REDSHIFT_HOST
      - REDSHIFT_PORT
      - REDSHIFT_DATABASE
      - REDSHIFT_USER
      - REDSHIFT_IAM_ROLE_ARN
    # Secrets (DAGSTER_PG_PASSWORD, PLATFORM_SOURCE_DSN, REDSHIFT_PASSWORD) live in AWS Secrets
    # Manager, tagged `dagster`: each becomes an environment variable of the run task, named after
    # the secret, and never appears in the task's overrides or in this file.
    secrets_tag: dagster""",
    compute_logs="""\
# Step logs (stdout/stderr) go to S3, where the webserver reads them back.
compute_logs:
  module: dagster_aws.s3.compute_log_manager
  class: S3ComputeLogManager
  config:
    bucket:
      env: DAGSTER_COMPUTE_LOGS_BUCKET
    prefix:
      env: DAGSTER_COMPUTE_LOGS_PREFIX
    upload_interval: 30""",
)


def _local_parts(storage_connection: str, home: Path) -> InstanceParts:
    return InstanceParts(
        header=(
            "# The platform's local Dagster instance, written into DAGSTER_HOME by\n"
            "# warehouse_platform/instance/config.py on every start: do not edit this copy."
        ),
        storage_connection=storage_connection,
        run_launcher="""\
# The default launcher (a subprocess per run, started by the code server) plus a health check
# of that subprocess, so run monitoring notices a run worker that died (SIGKILL, OOM).
run_launcher:
  module: warehouse_platform.instance.run_launcher
  class: MonitoredRunLauncher""",
        compute_logs=f"""\
# Step logs (stdout/stderr) on disk under DAGSTER_HOME, where the webserver reads them back.
compute_logs:
  module: dagster._core.storage.local_compute_log_manager
  class: LocalComputeLogManager
  config:
    base_dir: {home / "storage"}""",
    )


def embedded_storage_url(socket_dir: str, database: str = DAGSTER_DATABASE) -> str:
    """The embedded server listens on a unix socket only: libpq takes its folder as `host`."""
    return f"postgresql://postgres:@/{database}?host={quote(socket_dir, safe='/')}"


def storage_by_url(url: str) -> str:
    return f"    postgres_url: {url}"


def storage_by_variable(variable: str = STORAGE_URL_VARIABLE) -> str:
    return f"    postgres_url:\n      env: {variable}"


def render(parts: InstanceParts) -> str:
    return Template(TEMPLATE.read_text()).substitute(
        header=parts.header,
        storage_connection=parts.storage_connection,
        run_launcher=parts.run_launcher,
        compute_logs=parts.compute_logs,
        poll_interval_seconds=POLL_INTERVAL_SECONDS,
        max_runtime_seconds=MAX_RUNTIME_SECONDS,
        warehouse_pool_limit=WAREHOUSE_POOL_LIMIT,
    )


def render_prod_instance_config() -> str:
    return render(PROD_PARTS)


def render_instance_config(storage_connection: str, home: Path | None = None) -> str:
    """The local instance: the template with the local launcher and log folder, storage as given."""
    from warehouse_platform import settings

    return render(_local_parts(storage_connection, home or settings.dagster_home()))


def prepare_storage() -> str:
    """Start the Postgres that holds the instance's storage and create its database if missing;
    the storage connection for the template. Default: database `dagster` on the embedded
    server (started here, left running for the processes that follow)."""
    from warehouse_platform import settings
    from warehouse_platform.postgres_endpoint import (
        PostgresEndpoint,
        start_embedded_postgres,
    )

    if url := os.environ.get(STORAGE_URL_VARIABLE, "").strip():
        PostgresEndpoint.from_dsn(url).ensure_database()
        return storage_by_variable()
    endpoint = start_embedded_postgres(settings.embedded_postgres_dir()).with_database(DAGSTER_DATABASE)
    endpoint.ensure_database()
    return storage_by_url(embedded_storage_url(endpoint.host))


def prepare_dagster_home() -> Path:
    """Start the instance's storage, write DAGSTER_HOME/dagster.yaml, and point this process
    (and the processes it starts: dbt, dg dev) at it."""
    from warehouse_platform import settings

    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    text = render_instance_config(prepare_storage(), home)
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    os.environ["DAGSTER_HOME"] = str(home)
    _automation_reads_as_on(home)
    return home


def _automation_reads_as_on(home: Path) -> None:
    """The UI's "Auto-materialize on/off" badge (asset groups, build_analytics) shows the flag of
    Dagster's pre-sensor asset daemon, which reads "paused" until someone sets it. Automation here
    is the `declarative_automation` AutomationConditionSensorDefinition (running by default),
    which that flag does not stop: set it to what is true, so the badge reads on."""
    import dagster as dg
    from dagster._daemon.asset_daemon import get_auto_materialize_paused, set_auto_materialize_paused

    with dg.DagsterInstance.from_config(str(home)) as instance:
        if get_auto_materialize_paused(instance):
            set_auto_materialize_paused(instance, False)
