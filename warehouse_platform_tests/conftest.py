"""Shared fixtures: one real embedded Postgres per test session, a fresh pair of databases
(application + warehouse) per test, and a real S3 HTTP endpoint (moto's server) on loopback."""

import os
import uuid
from pathlib import Path

import pytest

from warehouse_platform.postgres_endpoint import (
    PostgresEndpoint,
    start_embedded_postgres,
    stop_embedded_postgres,
)

# The session's exit guard (exit_guard.py): pytest exits after the last test even when a test
# left a thread blocked. Its hooks are this conftest's (a -p plugin elsewhere).
from warehouse_platform_tests.exit_guard import (  # noqa: F401
    pytest_sessionfinish,
    pytest_unconfigure,
)

SESSION_DIRECTORY = os.getcwd()


@pytest.fixture(autouse=True)
def _each_test_starts_in_the_sessions_directory():
    """A dbt build can leave this process in the dbt project's folder (a test's copy under
    tmp_path included): dagster-dbt's fetch_row_counts / fetch_column_metadata threads each
    pushd into it at once, and one restores what another had set. Each test starts where the
    session did, whatever ran before it."""
    os.chdir(SESSION_DIRECTORY)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory) -> PostgresEndpoint:
    data_dir = tmp_path_factory.mktemp("embedded") / "pgdata"
    endpoint = start_embedded_postgres(data_dir)
    yield endpoint
    stop_embedded_postgres(data_dir)


def _dsn(endpoint: PostgresEndpoint) -> str:
    return f"host={endpoint.host} port={endpoint.port} user={endpoint.user} dbname={endpoint.dbname}"


def configure_platform(postgres_server, tmp_path: Path, monkeypatch) -> dict:
    """Point the environment module at fresh databases and a fresh stage folder."""
    suffix = uuid.uuid4().hex[:10]
    warehouse = postgres_server.with_database(f"warehouse_{suffix}")
    source = postgres_server.with_database(f"app_{suffix}")
    for endpoint in (warehouse, source):
        endpoint.ensure_database()
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("PLATFORM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PLATFORM_WAREHOUSE_DSN", _dsn(warehouse))
    monkeypatch.setenv("PLATFORM_SOURCE_DSN", _dsn(source))
    monkeypatch.setenv("PLATFORM_STAGE_URL", str(tmp_path / "stage"))
    use_dagster_storage_on(postgres_server, suffix, monkeypatch)
    monkeypatch.delenv("PLATFORM_S3_ENDPOINT_URL", raising=False)
    # dbt's connection variables are exported by the dbt resource; keep them per test.
    for name in list(os.environ):
        if name.startswith("PLATFORM_DBT_"):
            monkeypatch.delenv(name)
    return {"warehouse": warehouse, "source": source, "stage_root": tmp_path / "stage"}


def use_dagster_storage_on(postgres_server, suffix: str, monkeypatch) -> str:
    """A test's Dagster instance (when an entry point prepares one) keeps its storage in a
    database of its own on the session's server, instead of starting an embedded server under
    the test's state folder."""
    from warehouse_platform.instance.config import (
        STORAGE_URL_VARIABLE,
        embedded_storage_url,
    )

    url = embedded_storage_url(postgres_server.host, f"dagster_{suffix}")
    monkeypatch.setenv(STORAGE_URL_VARIABLE, url)
    return url


@pytest.fixture
def platform_env(postgres_server, tmp_path, monkeypatch) -> dict:
    return configure_platform(postgres_server, tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def module_platform_env(postgres_server, tmp_path_factory) -> dict:
    """The same, shared by the read-only tests of one module (a full run is costly)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield configure_platform(postgres_server, tmp_path_factory.mktemp("platform"), monkeypatch)


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server over real HTTP on 127.0.0.1 (a random free port)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("PLATFORM_S3_ENDPOINT_URL", s3_endpoint)
    import boto3

    bucket = f"stage-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return bucket



@pytest.fixture
def logs_platform(platform_env):
    """The code location, the warehouse and a test instance, for the log tests' landed files."""
    import dagster as dg

    from warehouse_platform import environment
    from warehouse_platform_tests.platform_runs import platform_definitions

    defs = platform_definitions()
    warehouse = environment.build_warehouse().process_config_and_initialize()
    with dg.instance_for_test() as instance:
        yield defs, instance, platform_env["stage_root"], warehouse
