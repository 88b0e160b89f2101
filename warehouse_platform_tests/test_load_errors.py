"""Bad input fails the load with the table, file, line and column named, and loses nothing."""

import csv
import gzip
import hashlib
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from warehouse_platform import environment
from warehouse_platform.catalog import table
from warehouse_platform.contract.table_spec import LoadMode
from warehouse_platform.stage.storage import LocalFolderStage
from warehouse_platform.staged_files.load_error import LoadError
from warehouse_platform.staged_files.manifest import StagedBatch, StagedPart
from warehouse_platform.warehouse.loader import load_staged_batch

DECLARED = table("session_transaction")

# The purchases' contract without its incremental cursor: these tests are about bad files, on
# both load modes, not about late changes (test_incremental.py).
SESSION_TRANSACTION = replace(
    DECLARED, columns=DECLARED.columns[:3], incremental=None, mode=LoadMode.REPLACE, dedupe_order=()
)

GOOD = [["a" * 32, "false", "100"], ["b" * 32, "true", "200"]]


def _stage_batch(stage: LocalFolderStage, name: str, rows: list[list[str]], header=None) -> StagedBatch:
    key = f"raw_data/session_transaction/day=2026-11-01/{name}"
    path = Path(stage.root, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header or SESSION_TRANSACTION.column_names)
        writer.writerows(rows)
    data = path.read_bytes()
    part = StagedPart(stage.url_for(key), len(rows), len(data), hashlib.sha256(data).hexdigest())
    return StagedBatch("raw_data.session_transaction", "2026-11-01", SESSION_TRANSACTION.column_names, (part,))


@pytest.fixture
def loader(platform_env, tmp_path):
    stage = LocalFolderStage(root=str(tmp_path / "errors_stage"))
    warehouse = environment.build_warehouse().process_config_and_initialize()
    load_staged_batch(warehouse, stage, SESSION_TRANSACTION, _stage_batch(stage, "good.csv.gz", GOOD), "run-1")
    return warehouse, stage


def _rows(warehouse):
    return sorted(warehouse.query("SELECT sessionid, refunded, amount FROM raw_data.session_transaction"))


def test_malformed_value_names_file_line_and_column_and_keeps_loaded_rows(loader):
    warehouse, stage = loader
    before = _rows(warehouse)
    batch = _stage_batch(stage, "bad.csv.gz", [["c" * 32, "false", "300"], ["d" * 32, "false", "12x"]])
    with pytest.raises(LoadError) as raised:
        load_staged_batch(warehouse, stage, SESSION_TRANSACTION, batch, "run-2")
    error = raised.value
    assert (error.table, error.line, error.column) == ("raw_data.session_transaction", 3, "amount")
    assert error.file_url.endswith("bad.csv.gz") and "12x" in error.reason
    assert str(error).startswith("load of raw_data.session_transaction failed at file://")
    assert _rows(warehouse) == before and len(before) == 2


def test_null_key_is_refused(loader):
    warehouse, stage = loader
    with pytest.raises(LoadError, match="NULL primary key") as raised:
        load_staged_batch(warehouse, stage, SESSION_TRANSACTION, _stage_batch(stage, "null.csv.gz", [["", "true", "5"]]), "r")
    assert raised.value.column == "sessionid"
    assert len(_rows(warehouse)) == 2


# The day swap (replace) and the staging table (append: the statements Redshift always runs).
PATHS = pytest.mark.parametrize("mode", [LoadMode.REPLACE, LoadMode.APPEND], ids=["partition_swap", "staging_table"])


@PATHS
def test_null_key_is_refused_on_both_load_paths(loader, mode):
    warehouse, stage = loader
    spec = replace(SESSION_TRANSACTION, mode=mode)
    batch = _stage_batch(stage, f"null_{mode.value}.csv.gz", [["c" * 32, "true", "5"], ["", "false", "6"]])
    with pytest.raises(LoadError, match="NULL primary key") as raised:
        load_staged_batch(warehouse, stage, spec, batch, "r")
    assert (raised.value.table, raised.value.column) == ("raw_data.session_transaction", "sessionid")
    assert _rows(warehouse) == sorted((k, r == "true", int(a)) for k, r, a in GOOD)


@PATHS
def test_a_manifest_row_count_that_differs_from_the_file_is_refused_on_both_load_paths(loader, mode):
    warehouse, stage = loader
    spec = replace(SESSION_TRANSACTION, mode=mode)
    batch = _stage_batch(stage, f"miscounted_{mode.value}.csv.gz", [["c" * 32, "true", "5"], ["d" * 32, "false", "6"], ["e" * 32, "false", "7"]])
    # The file and its checksum are right; only the manifest's record count is off by one.
    miscounted = replace(batch, parts=(replace(batch.parts[0], row_count=4),))
    with pytest.raises(LoadError, match="manifest lists 4 rows but COPY read 3"):
        load_staged_batch(warehouse, stage, spec, miscounted, "r")
    assert len(_rows(warehouse)) == 2


def test_header_that_does_not_match_the_contract_is_refused(loader):
    warehouse, stage = loader
    batch = _stage_batch(stage, "drift.csv.gz", GOOD, header=["sessionid", "amount", "refunded"])
    with pytest.raises(LoadError) as raised:
        load_staged_batch(warehouse, stage, SESSION_TRANSACTION, batch, "r")
    assert raised.value.line == 1 and "header" in raised.value.reason.lower()


def test_duplicates_inside_one_batch_load_once(loader):
    warehouse, stage = loader
    batch = _stage_batch(stage, "dupes.csv.gz", [*GOOD, GOOD[0], ["e" * 32, "false", "1"]])
    report = load_staged_batch(warehouse, stage, SESSION_TRANSACTION, batch, "r")
    assert (report.rows_staged, report.rows_loaded, report.duplicates_skipped) == (4, 3, 1)
    assert len(_rows(warehouse)) == 3


def test_oversize_varchar_is_caught_before_copy_with_column_file_line_and_value(loader):
    from warehouse_platform.catalog import table
    USER_SESSION_CHANNEL = table("user_session_channel")
    from warehouse_platform_tests.staged_batches import platform_batch

    warehouse, stage = loader
    # 11 Hangul syllables: 11 characters (fits Postgres's varchar(32)) but 33 bytes (not Redshift's).
    wide = "네이버광고채널캠페인유"
    rows = [("1", "a" * 32, "Naver"), ("2", "b" * 32, "Google"), ("3", "c" * 32, wide)]
    batch = platform_batch(stage, USER_SESSION_CHANNEL, "2026-11-01", rows, slice_count=1)
    with pytest.raises(LoadError) as raised:
        load_staged_batch(warehouse, stage, USER_SESSION_CHANNEL, batch, "r")
    error = raised.value
    assert (error.column, error.line) == ("channel", 4)
    assert error.file_url == batch.parts[0].url
    assert "33 bytes" in error.reason and "varchar(32)" in error.reason and wide in error.reason


def test_oversize_varchar_in_a_file_without_widths_is_measured_in_bytes_after_copy(loader):
    from warehouse_platform.catalog import table
    USER_SESSION_CHANNEL = table("user_session_channel")
    from warehouse_platform_tests.staged_batches import hand_written_batch

    warehouse, stage = loader
    batch = hand_written_batch(stage, USER_SESSION_CHANNEL, "2026-11-01", "landed.csv.gz", [["1", "a" * 32, "네이버광고채널캠페인유"]])
    with pytest.raises(LoadError, match=r"33 bytes .* varchar\(32\)") as raised:
        load_staged_batch(warehouse, stage, USER_SESSION_CHANNEL, batch, "r")
    assert raised.value.column == "channel"
    assert warehouse.query("SELECT count(*) FROM raw_data.user_session_channel") == [(0,)]


def _s3_stage(s3_endpoint: str, bucket: str):
    from dagster_aws.s3 import S3Resource

    from warehouse_platform.stage.s3_storage import S3Stage

    return S3Stage(s3=S3Resource(endpoint_url=s3_endpoint, region_name="us-east-1"), bucket=bucket, prefix="stage")


@PATHS
@pytest.mark.parametrize("stage_kind", ["folder", "s3"])
def test_a_deleted_staged_part_names_the_table_and_file_and_says_to_restage_the_day(
    loader, mode, stage_kind, request, tmp_path
):
    warehouse, folder = loader
    spec = replace(SESSION_TRANSACTION, mode=mode)
    batch = _stage_batch(folder, f"gone_{mode.value}.csv.gz", [["c" * 32, "true", "5"]])
    stage = folder
    if stage_kind == "s3":
        # The same part, staged on moto's S3 server under the same key.
        stage = _s3_stage(request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3_bucket"))
        key = folder.key_for(batch.parts[0].url)
        copy = tmp_path / "part.csv.gz"
        copy.write_bytes(Path(folder.root, key).read_bytes())
        stage.put_file(copy, key)
        batch = replace(batch, parts=(replace(batch.parts[0], url=stage.url_for(key)),))
    # Someone (a lifecycle rule, a hand) deletes the part between staging and loading.
    stage.delete([stage.key_for(batch.parts[0].url)])
    with pytest.raises(LoadError, match="staged part missing: re-stage the day") as raised:
        load_staged_batch(warehouse, stage, spec, batch, "r")
    assert raised.value.table == "raw_data.session_transaction" and raised.value.file_url == batch.parts[0].url
    assert f"gone_{mode.value}.csv.gz" in str(raised.value)
    assert len(_rows(warehouse)) == 2


def test_a_source_value_that_outgrows_its_int_column_names_the_key_column_and_value_before_any_copy(platform_env):
    """The application widened app.transactions.amount to bigint (the same kind of type, so the
    contract lets it through) and one purchase holds 3,000,000,000; raw_data's column is int."""
    import dagster as dg

    from warehouse_platform.sample_data.session_generator import GeneratorConfig
    from warehouse_platform_tests.platform_runs import platform_definitions, seed

    day = "2026-11-05"
    seed(platform_env["source"], date.fromisoformat(day), 1, GeneratorConfig(scale=0.05))
    conn = platform_env["source"].connect()
    with conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE app.transactions ALTER COLUMN amount TYPE bigint")
        cur.execute(
            "UPDATE app.transactions SET amount = 3000000000 WHERE sessionid = "
            "(SELECT sessionid FROM app.transactions WHERE updated_at::date = %s ORDER BY sessionid DESC LIMIT 1) "
            "RETURNING sessionid", (day,),
        )
        [(sessionid,)] = cur.fetchall()
    conn.close()
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("extract_and_load_day").execute_in_process(
            instance=instance, partition_key=day, raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        failures = {
            e.step_key: e.event_specific_data.error
            for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE
        }
        loaded = [e for e in result.get_asset_materialization_events() if e.asset_key.path == ["raw_data", "session_transaction"]]
    # The stage step fails (no COPY ran, nothing loaded); its error names the row by the source's key.
    [message] = [error.cause.message for step, error in failures.items() if step == "stage__raw_data__session_transaction"]
    assert "ValueOutOfRange: raw_data.session_transaction: the source's row with key " in message
    assert f"sessionid={sessionid}" in message and "amount = 3000000000" in message and "type int " in message
    assert " line " not in message and loaded == []
