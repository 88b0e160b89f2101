"""No secret leaves the platform: one scrubber (secrets.py) for every error, statement and
repr we show, proven by planting a password and searching everything a failed run leaves."""

import os
from datetime import date
from pathlib import Path

import pytest

from warehouse_platform import settings
from warehouse_platform.sample_data.session_generator import GeneratorConfig
from warehouse_platform.secrets import scrub
from warehouse_platform.warehouse.resources import PostgresWarehouse, RedshiftWarehouse
from warehouse_platform_tests.platform_runs import seed

PLANTED = "S3cr3tPlanted"


@pytest.mark.parametrize(
    "text",
    [
        f'invalid dsn: missing "=" after "password:{PLANTED}" in connection info string',
        f"postgresql://etl:{PLANTED}@db.internal:5432/app",
        f"host=db user=etl password={PLANTED} dbname=app",
        f"host=db password='{PLANTED} with spaces' dbname=app",
        f'{{"user": "etl", "password": "{PLANTED}"}}',
        f"PGPASSWORD={PLANTED} psql",
        f"COPY t FROM 's3://b/m' CREDENTIALS AS 'aws_access_key_id=AKIAIOSFODNN7EXAMPLE;aws_secret_access_key={PLANTED}'",
        f"CREDENTIALS 'aws_iam_role=arn;token={PLANTED}'",
        f"UNLOAD ('select 1') TO 's3://b/p' ACCESS_KEY_ID 'AKIAIOSFODNN7EXAMPLE' SECRET_ACCESS_KEY '{PLANTED}' SESSION_TOKEN '{PLANTED}'",
        f"secret_access_key = {PLANTED}",
    ],
)
def test_every_kind_of_secret_is_masked(text):
    shown = scrub(text)
    assert PLANTED not in shown and "AKIAIOSFODNN7EXAMPLE" not in shown and "***" in shown


def test_an_aws_access_key_id_is_masked_anywhere_and_plain_text_is_left_alone():
    assert scrub("key AKIAIOSFODNN7EXAMPLE in a message") == "key *** in a message"
    plain = "COPY t FROM 's3://b/m' IAM_ROLE 'arn:aws:iam::123456789012:role/copy' MANIFEST; redshift://etl@h:5439/dev"
    assert scrub(plain) == plain


def test_resource_reprs_never_show_the_password():
    redshift = RedshiftWarehouse(host="h", database="d", user="u", password=PLANTED, iam_role_arn="arn")
    postgres = PostgresWarehouse(dsn=f"host=h password={PLANTED}")
    for shown in (repr(redshift), str(redshift), repr(postgres), str(postgres)):
        assert PLANTED not in shown


def test_a_mistyped_dsn_leaves_no_password_in_the_instance_or_the_output(platform_env, monkeypatch, capfd):
    """A real run fails on the DSN; the event log, compute logs and terminal output are searched."""
    from warehouse_platform import cli

    monkeypatch.setenv("DAGSTER_HOME", "restored-after-the-test")
    seed(platform_env["source"], date(2026, 11, 5), 1, GeneratorConfig(scale=0.05))
    warehouse = platform_env["warehouse"]
    # A colon typed for "=": libpq rejects the DSN and quotes the offending word, password included.
    monkeypatch.setenv(
        "PLATFORM_WAREHOUSE_DSN",
        f"host={warehouse.host} port={warehouse.port} user={warehouse.user} password:{PLANTED} dbname={warehouse.dbname}",
    )
    assert cli.main(["backfill", "--from", "2026-11-05", "--to", "2026-11-05"]) == 1
    output = capfd.readouterr()
    assert "FAILED" in output.out
    home = settings.dagster_home()
    files = [p for p in Path(home).rglob("*") if p.is_file()]
    assert any("compute_logs" in str(p) for p in files)
    leaked = [str(p) for p in files if PLANTED.encode() in p.read_bytes()]
    assert leaked == [] and PLANTED not in output.out + output.err
    # The instance's storage (runs, events) is in Postgres: its rows are searched too.
    from warehouse_platform.instance.config import STORAGE_URL_VARIABLE
    from warehouse_platform.postgres_endpoint import PostgresEndpoint

    storage = PostgresEndpoint.from_dsn(os.environ[STORAGE_URL_VARIABLE])
    stored = storage.query("SELECT event FROM event_logs") + storage.query("SELECT run_body FROM runs")
    assert len(stored) > 1 and not [row for row in stored if PLANTED in row[0]]
    # The failure is still explained: the run's event log says what was wrong with the DSN.
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        messages = " ".join(
            str(e.dagster_event.event_specific_data.error.to_string())
            for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        )
        assert 'invalid dsn: missing "=" after "password:***"' in messages
