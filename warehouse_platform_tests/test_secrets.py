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

# Malformed DSNs, each as an engineer might mistype it; the secret is the whole password.
AWKWARD = "Pl@nt:ed/pw%41x"  # characters that end a URL's user info, host or path, and a bad escape
MALFORMED_DSNS = {
    "one slash": (f"postgresql:/etl:{PLANTED}@db.internal:5432/app", PLANTED),
    "no scheme": (f"etl:{PLANTED}@db.internal:5432/app", PLANTED),
    "@ : / % in the password": (f"postgresql:/etl:{AWKWARD}@db.internal:5432/app", AWKWARD),
    "key=value, quoted password with spaces": (f"host=db user=etl password='{PLANTED} with spaces' dbname=app", f"{PLANTED} with spaces"),
}
SECRET_VARIABLES = ["PLATFORM_WAREHOUSE_DSN", "PLATFORM_SOURCE_DSN", "PLATFORM_DAGSTER_STORAGE_URL"]


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


@pytest.mark.parametrize("shape", MALFORMED_DSNS)
def test_resource_and_endpoint_reprs_never_show_a_malformed_dsns_password(shape):
    from warehouse_platform.extract.source_database import SourceDatabase
    from warehouse_platform.postgres_endpoint import PostgresEndpoint

    dsn, password = MALFORMED_DSNS[shape]
    shown = [repr(PostgresWarehouse(dsn=dsn)), repr(SourceDatabase(dsn=dsn)), str(SourceDatabase(dsn=dsn))]
    shown.append(repr(PostgresEndpoint(host="db", port=5432, user="etl", dbname="app", password=password)))
    assert not [s for s in shown if password in s]


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
    assert "failed extract_and_load_day 2026-11-05" in output.out
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




@pytest.mark.parametrize("variable", SECRET_VARIABLES)
@pytest.mark.parametrize("shape", MALFORMED_DSNS)
def test_a_configured_dsns_password_is_masked_by_value_whatever_the_syntax_around_it(shape, variable, monkeypatch):
    from urllib.parse import quote

    dsn, password = MALFORMED_DSNS[shape]
    monkeypatch.setenv(variable, dsn)
    for text in (
        f'invalid dsn: missing "=" after "{dsn}" in connection info string',  # libpq quotes the whole word
        f"could not connect with {password}",  # the bare password in a sentence
        repr({"dsn": dsn}),  # a repr
        f"password%3D{quote(password, safe='')}",  # URL-encoded
        f"Could not parse SQLAlchemy URL from string '{dsn}'",
    ):
        shown = scrub(text)
        assert password not in shown and quote(password, safe="") not in shown and "***" in shown, text


@pytest.mark.parametrize(
    "variable", ["REDSHIFT_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DAGSTER_PG_PASSWORD"]
)
def test_a_configured_password_key_or_token_is_masked_by_value_anywhere(variable, monkeypatch):
    monkeypatch.setenv(variable, AWKWARD)
    assert scrub(f"no syntax around it: {AWKWARD}.") == "no syntax around it: ***."
    # Read when scrubbing, not at import: a changed value is the one masked.
    monkeypatch.setenv(variable, PLANTED)
    assert scrub(f"{AWKWARD} {PLANTED}") == f"{AWKWARD} ***"


def test_a_value_too_short_to_be_told_from_words_is_left_to_the_patterns(monkeypatch):
    # The AWS variables of a test or a local MinIO hold `test`; masking it everywhere would
    # garble every path and message.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    assert scrub("tests/test_x.py") == "tests/test_x.py"


def test_a_temporary_asia_access_key_id_is_masked():
    assert scrub("key ASIAIOSFODNN7EXAMPLE of a session") == "key *** of a session"
    assert "ASIAIOSFODNN7EXAMPLE" not in scrub("aws_access_key_id=ASIAIOSFODNN7EXAMPLE")


# Each shape through one variable: a CLI process is slow, and every variable is covered.
CLI_CASES = [
    ("PLATFORM_WAREHOUSE_DSN", "one slash"),
    ("PLATFORM_SOURCE_DSN", "no scheme"),
    ("PLATFORM_DAGSTER_STORAGE_URL", "@ : / % in the password"),
    ("PLATFORM_WAREHOUSE_DSN", "@ : / % in the password"),
    ("PLATFORM_DAGSTER_STORAGE_URL", "key=value, quoted password with spaces"),
]


@pytest.mark.parametrize(("variable", "shape"), CLI_CASES)
def test_a_malformed_dsn_leaves_no_password_in_a_cli_runs_output_or_instance(variable, shape, platform_env, postgres_server):
    """A real `warehouse-platform backfill` process with the variable set to a malformed DSN: its
    stdout and stderr, every file under the instance's home (compute logs) and the instance's
    storage (runs, event log) are searched for the password."""
    import subprocess
    import sys

    from warehouse_platform.instance.config import STORAGE_URL_VARIABLE
    from warehouse_platform.postgres_endpoint import PostgresEndpoint

    seed(platform_env["source"], date(2026, 11, 5), 1, GeneratorConfig(scale=0.05))
    dsn, password = MALFORMED_DSNS[shape]
    storage_url = os.environ[STORAGE_URL_VARIABLE]
    if shape.startswith("key=value") and variable == STORAGE_URL_VARIABLE:
        # A DSN libpq accepts (the platform creates the database) that SQLAlchemy cannot parse
        # (the instance's storage quotes it whole).
        storage = PostgresEndpoint.from_dsn(storage_url)
        dsn = f"host={storage.host} port={storage.port} user={storage.user} password='{password}' dbname={storage.dbname}"
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "warehouse_platform.cli", "backfill", "--from", "2026-11-05", "--to", "2026-11-05"],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root), variable: dsn}, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert password not in output, output
    home = settings.dagster_home()
    files = [p for p in Path(home).rglob("*") if p.is_file()]
    assert [str(p) for p in files if password.encode() in p.read_bytes()] == []
    if variable != STORAGE_URL_VARIABLE:
        # The run failed in its step: the message is in the instance's storage, and is scrubbed.
        assert "failed extract_and_load_day 2026-11-05" in done.stdout and any("compute_logs" in str(p) for p in files)
        storage = PostgresEndpoint.from_dsn(storage_url)
        stored = storage.query("SELECT event FROM event_logs") + storage.query("SELECT run_body FROM runs")
        assert len(stored) > 1 and not [row for row in stored if password in row[0]]
        assert "***" in " ".join(row[0] for row in stored)


def test_a_url_dsn_with_an_unencoded_password_fails_without_quoting_a_piece_of_it():
    from warehouse_platform.postgres_endpoint import PostgresEndpoint

    # libpq reads `Pl` as the password, `nt` as the host and `ed` as the port: pieces no
    # pattern or value can recognise must not be quoted at all.
    with pytest.raises(ValueError, match="must be percent-encoded") as raised:
        PostgresEndpoint.from_dsn(f"postgresql://etl:{AWKWARD}@db.internal:5432/app")
    assert "'ed'" not in str(raised.value)
