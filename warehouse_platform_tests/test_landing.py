"""Landed files: sensor ticks against a real instance (folder and S3 on moto's server), real runs
of what they request, and the errors a data team gets for files that cannot be loaded.

The tests declare `raw_data.session_timestamp` as fed by landed files (the catalog feeds it by
extraction): the same contract and load path, reached through the landing sensor.
"""

import gzip
import os
from dataclasses import replace
from datetime import date

import boto3
import dagster as dg
import pytest

from warehouse_platform import environment
from warehouse_platform.catalog import load_catalog, table
from warehouse_platform.contract.table_spec import RowsFrom
from warehouse_platform.sample_data.session_generator import GeneratorConfig
from warehouse_platform.staged_files.landing_layout import LandedFile, run_key
from warehouse_platform_tests.platform_runs import platform_definitions, seed, step_failure_message

RAW_TABLES = load_catalog()
# How the landing sensor names session_timestamp's first day (its catalog history_start).
_START = f"history_start {next(s for s in RAW_TABLES if s.name == 'session_timestamp').history_start.isoformat()}"
SESSION_TIMESTAMP = table("session_timestamp")

DAY = "2026-11-05"
LANDED = replace(SESSION_TIMESTAMP, rows_from=RowsFrom.LANDING)
TABLES = tuple(LANDED if spec.name == LANDED.name else spec for spec in RAW_TABLES)
STAGE_OP = "stage__raw_data__session_timestamp"


def _csv(rows, header="sessionid,ts") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def _sessions(prefix: str, n: int, day: str = DAY, hour: int = 8) -> list[str]:
    return [f"{prefix * 24}{i:08d},{day} {hour:02d}:00:{i % 60:02d}" for i in range(n)]


@pytest.fixture
def landing(platform_env):
    defs = platform_definitions(TABLES)
    warehouse = environment.build_warehouse().process_config_and_initialize()
    with dg.instance_for_test() as instance:
        yield defs, instance, platform_env["stage_root"], warehouse


def _drop(root, relative: str, data: bytes, gz: bool = True):
    path = root / "landing" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def _tick(defs, instance, cursor=None):
    sensor = defs.get_sensor_def("landing_files")
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"stage": defs.resources["stage"]}) as context:
        return sensor(context)


def _requests(result) -> list[dg.RunRequest]:
    return list(result.run_requests) if isinstance(result, dg.SensorResult) else []


def _skip_message(result) -> str:
    if isinstance(result, dg.SensorResult):
        assert not result.run_requests, "expected a skipped tick"
        return result.skip_reason.skip_message
    return result.skip_message


def _run(defs, instance, request: dg.RunRequest, raise_on_error=True):
    """What the sensor daemon does with a request (it also tags the run with its run key)."""
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=request.partition_key, asset_selection=list(request.asset_selection),
        run_config=request.run_config, tags={**request.tags, "dagster/run_key": request.run_key},
        raise_on_error=raise_on_error,
    )


def _count(warehouse) -> int:
    [(exists,)] = warehouse.query("SELECT to_regclass('raw_data.session_timestamp') IS NOT NULL")
    return warehouse.query("SELECT count(*) FROM raw_data.session_timestamp")[0][0] if exists else 0


def _landed(request) -> list[str]:
    return request.run_config["ops"][STAGE_OP]["config"]["landed_files"]


def test_landed_files_load_once_and_a_second_file_joins_its_day(landing):
    defs, instance, root, warehouse = landing
    assert "nothing new among 0 files" in _skip_message(_tick(defs, instance))

    _drop(root, f"session_timestamp/day={DAY}/morning.csv.gz", _csv(_sessions("a", 3)))
    [request] = _requests(_tick(defs, instance))
    assert request.partition_key == DAY and request.run_key.startswith(f"landing:session_timestamp:{DAY}:")
    assert _landed(request) == [f"landing/session_timestamp/day={DAY}/morning.csv.gz"]
    result = _run(defs, instance, request)
    assert _count(warehouse) == 3
    checks = result.get_asset_check_evaluations()
    # The same checks as extracted days; all pass but freshness (the day is weeks old).
    assert checks and all(c.passed for c in checks if c.check_name != "newest_day_fresh")

    assert not _requests(_tick(defs, instance)), "a loaded file is never requested again"

    _drop(root, f"session_timestamp/day={DAY}/evening.csv.gz", _csv(_sessions("b", 2, hour=20)))
    [second] = _requests(_tick(defs, instance))
    assert len(_landed(second)) == 2 and second.run_key != request.run_key
    _run(defs, instance, second)
    assert _count(warehouse) == 5


def test_a_file_landed_with_an_old_modification_time_is_found(landing):
    # rsync -a, cp -p or a restored backup keep a file's old time: no time cursor may hide it.
    defs, instance, root, warehouse = landing
    _drop(root, f"session_timestamp/day={DAY}/morning.csv.gz", _csv(_sessions("a", 3)))
    _run(defs, instance, _requests(_tick(defs, instance))[0])
    restored = _drop(root, f"session_timestamp/day={DAY}/restored.csv.gz", _csv(_sessions("c", 4)))
    os.utime(restored, (946684800, 946684800))  # 2000-01-01, older than everything seen
    [request] = _requests(_tick(defs, instance))
    assert f"landing/session_timestamp/day={DAY}/restored.csv.gz" in _landed(request)
    _run(defs, instance, request)
    assert _count(warehouse) == 7


def test_a_reset_cursor_reloads_nothing(landing):
    defs, instance, root, warehouse = landing
    _drop(root, f"session_timestamp/day={DAY}/morning.csv.gz", _csv(_sessions("a", 3)))
    first = _requests(_tick(defs, instance))
    _run(defs, instance, first[0])
    # The record of loaded files lives in the instance, not in the sensor's cursor.
    for cursor in (None, "", '{"stale": "cursor"}'):
        assert not _requests(_tick(defs, instance, cursor=cursor))
    assert _count(warehouse) == 3


def test_a_file_rewritten_in_place_loads_again(landing):
    defs, instance, root, warehouse = landing
    path = _drop(root, f"session_timestamp/day={DAY}/morning.csv.gz", _csv(_sessions("a", 3)))
    [first] = _requests(_tick(defs, instance))
    _run(defs, instance, first)
    path.write_bytes(gzip.compress(_csv(_sessions("a", 6)), mtime=0))  # same name, new content
    [again] = _requests(_tick(defs, instance))
    assert again.run_key != first.run_key and _landed(again) == _landed(first)
    _run(defs, instance, again)
    assert _count(warehouse) == 6


def test_re_executing_an_older_run_over_fewer_files_keeps_every_file_of_the_day(landing):
    """"Re-execute" in the UI is a new run, so a newer batch: it stages every file present for
    the day, not only those its request named, and the day never loses the later file."""
    defs, instance, root, warehouse = landing
    _drop(root, f"session_timestamp/day={DAY}/morning.csv.gz", _csv(_sessions("a", 3)))
    [older] = _requests(_tick(defs, instance))
    _run(defs, instance, older)
    _drop(root, f"session_timestamp/day={DAY}/evening.csv.gz", _csv(_sessions("b", 2, hour=20)))
    [newer] = _requests(_tick(defs, instance))
    _run(defs, instance, newer)
    assert _count(warehouse) == 5
    again = _run(defs, instance, older)  # the run over morning.csv.gz alone, executed again
    assert _count(warehouse) == 5
    [stage_meta] = [m for m in again.get_asset_materialization_events() if m.asset_key.path[0] == "stage"]
    assert stage_meta.materialization.metadata["dagster/row_count"].value == 5
    assert not _requests(_tick(defs, instance)), "the day holds every file: nothing to ask for"


def test_a_run_over_fewer_files_requested_after_one_over_more_loses_nothing(landing):
    defs, instance, root, warehouse = landing
    _drop(root, f"session_timestamp/day={DAY}/morning.csv.gz", _csv(_sessions("a", 3)))
    [first] = _requests(_tick(defs, instance))  # requested over morning alone, not yet run
    _drop(root, f"session_timestamp/day={DAY}/evening.csv.gz", _csv(_sessions("b", 2, hour=20)))
    [second] = _requests(_tick(defs, instance))
    _run(defs, instance, second)
    _run(defs, instance, first)  # requested (created) after the run over both files
    assert _count(warehouse) == 5
    assert not _requests(_tick(defs, instance))


def test_a_file_the_days_record_lacks_is_requested_again(landing):
    """The sensor asks by what the day's rows come from (written by the load), not by what a
    run was handed: if a load over fewer files ever lands last, the missing file is asked for
    again, under a new run key (the old one was used)."""
    from warehouse_platform.stage.landing_record import read_loaded, record_loaded

    defs, instance, root, warehouse = landing
    _drop(root, f"session_timestamp/day={DAY}/morning.csv.gz", _csv(_sessions("a", 3)))
    _drop(root, f"session_timestamp/day={DAY}/evening.csv.gz", _csv(_sessions("b", 2, hour=20)))
    [both] = _requests(_tick(defs, instance))
    _run(defs, instance, both)
    [loaded] = read_loaded(instance, [("session_timestamp", DAY)]).values()
    assert sorted(loaded) == sorted(_landed(both))
    # What a load over morning.csv.gz alone would leave as the day's record.
    morning = f"landing/session_timestamp/day={DAY}/morning.csv.gz"
    record_loaded(instance, "session_timestamp", DAY, {morning: loaded[morning]})
    [again] = _requests(_tick(defs, instance))
    assert again.run_key != both.run_key and _landed(again) == _landed(both)
    _run(defs, instance, again)
    assert _count(warehouse) == 5 and not _requests(_tick(defs, instance))


def test_a_run_that_failed_is_not_requested_again_until_a_file_changes(landing):
    defs, instance, root, warehouse = landing
    path = _drop(root, f"session_timestamp/day={DAY}/morning.csv.gz", _csv([*_sessions("a", 2), "x,not a time"]))
    [failing] = _requests(_tick(defs, instance))
    assert not _run(defs, instance, failing, raise_on_error=False).success
    [same] = _requests(_tick(defs, instance))
    assert same.run_key == failing.run_key, "Dagster launches a run key once: no retry storm of a bad file"
    path.write_bytes(gzip.compress(_csv(_sessions("a", 2)), mtime=0))
    [fixed] = _requests(_tick(defs, instance))
    assert fixed.run_key != failing.run_key
    _run(defs, instance, fixed)
    assert _count(warehouse) == 2


def test_a_corrected_file_of_the_same_size_and_time_loads_again(landing):
    """`rsync -a`, `cp -p` or a restore keep a file's size and modification time; the local
    stage's version is the file's content hash (as S3's ETag is), so the new bytes are a new
    version."""
    defs, instance, root, warehouse = landing
    path = _drop(root, f"session_timestamp/day={DAY}/morning.csv", _csv(_sessions("a", 3)), gz=False)
    before = path.stat()
    _run(defs, instance, _requests(_tick(defs, instance))[0])
    corrected = _csv(_sessions("c", 3))
    assert len(corrected) == before.st_size
    path.write_bytes(corrected)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    [request] = _requests(_tick(defs, instance))
    _run(defs, instance, request)
    assert warehouse.query("SELECT count(*) FROM raw_data.session_timestamp WHERE sessionid LIKE 'c%'")[0][0] == 3
    assert _count(warehouse) == 3


def test_the_local_stage_version_changes_exactly_when_the_bytes_do(tmp_path):
    from warehouse_platform.stage.storage import LocalFolderStage

    stage = LocalFolderStage(root=str(tmp_path))
    path = tmp_path / "landing" / "f.csv"
    path.parent.mkdir()
    path.write_bytes(b"abc\n")

    def version():
        [obj] = stage.list_objects("landing/", versions=True)
        return obj.etag

    first = version()
    os.utime(path, (946684800, 946684800))
    assert version() == first, "a new time alone is not a new version"
    stat = path.stat()
    path.write_bytes(b"abd\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert version() != first
    path.write_bytes(b"abc\n")
    assert version() == first, "the same bytes are the same version"
    [unversioned] = stage.list_objects("landing/")
    assert unversioned.etag is None, "versions cost a read of each file: only when asked"


def test_the_run_key_names_every_file_version():
    one = LandedFile("landing/t/day=2026-11-05/a.csv", "etag-1", "t", "2026-11-05")
    rewritten = replace(one, etag="etag-2")
    assert run_key("t", "2026-11-05", [one]) != run_key("t", "2026-11-05", [rewritten])
    other = replace(one, key="landing/t/day=2026-11-05/b.csv")
    assert run_key("t", "2026-11-05", [one, other]) == run_key("t", "2026-11-05", [other, one])


def test_files_that_cannot_be_loaded_are_reported_and_never_stop_the_others(landing):
    defs, instance, root, _ = landing
    bad = {
        "sessions_v2/x.csv": "unknown table 'sessions_v2'",
        "session_timestamp/flat.csv": "session_timestamp is loaded by day; put the file under landing/session_timestamp/day=YYYY-MM-DD/",
        "session_timestamp/day=2026-13-45/x.csv": "'2026-13-45' is not a day",
        "session_timestamp/day=2020-01-01/old.csv": f"day 2020-01-01 is before the first partition of raw_data.session_timestamp ({_START}); it is never loaded",
        f"user_session_channel/day={DAY}/x.csv": "raw_data.user_session_channel is fed by extraction from the application database, not by landed files",
        "session_timestamp/notes.txt": "not a landing file",
    }
    for relative in bad:
        _drop(root, relative, b"sessionid,ts\n", gz=False)
    _drop(root, "session_timestamp/day=2099-01-01/future.csv", b"sessionid,ts\n", gz=False)
    message = _skip_message(_tick(defs, instance))
    for reason in bad.values():
        assert reason in message
    assert "1 wait for their day's partition" in message
    # A good file beside them is loaded; the bad ones never make the tick fail.
    _drop(root, f"session_timestamp/day={DAY}/good.csv", _csv(_sessions("a", 2)), gz=False)
    [request] = _requests(_tick(defs, instance))
    assert _landed(request) == [f"landing/session_timestamp/day={DAY}/good.csv"]


def test_a_tick_that_requests_runs_lists_each_file_it_did_not_load_in_its_logs(landing):
    """Dagster shows a skip reason only on ticks that request nothing; a tick that requests runs
    names the rejected files, and why, in its captured logs (the tick's "View logs" in the UI)."""
    defs, instance, root, _ = landing
    bad = {
        "sessions_v2/x.csv": "unknown table 'sessions_v2'",
        "session_timestamp/day=2020-01-01/old.csv": f"day 2020-01-01 is before the first partition of raw_data.session_timestamp ({_START})",
    }
    for relative in bad:
        _drop(root, relative, b"sessionid,ts\n", gz=False)
    _drop(root, f"session_timestamp/day={DAY}/good.csv", _csv(_sessions("a", 2)), gz=False)
    sensor = defs.get_sensor_def("landing_files")
    # As the daemon builds it: with the instance's ref, a sensor's log is captured under the tick's log key.
    with dg.build_sensor_context(
        instance_ref=instance.get_ref(), definitions=defs, resources={"stage": defs.resources["stage"]},
        repository_name="__repository__", sensor_name="landing_files",
    ) as context:
        tick = sensor.evaluate_tick(context)
        log_key = context.log_key
    assert len(tick.run_requests) == 1 and tick.skip_message is None
    from dagster._core.storage.compute_log_manager import ComputeIOType

    logged = instance.compute_log_manager.get_log_data_for_type(log_key, ComputeIOType.STDERR, 0, None)[0].decode()
    for relative, reason in bad.items():
        assert f"landing/{relative}" in logged and reason in logged
    assert "1 runs requested; 2 landed files not loaded" in logged


def test_the_schedule_never_extracts_over_a_landed_day(landing, platform_env):
    defs, instance, root, warehouse = landing
    seed_day = date.fromisoformat(DAY)
    _drop(root, f"session_timestamp/day={DAY}/morning.csv.gz", _csv(_sessions("a", 3)))
    _run(defs, instance, _requests(_tick(defs, instance))[0])
    # The daily job leaves the landed table out, so the schedule and backfills cannot touch it.
    daily = defs.resolve_job_def("extract_and_load_day")
    assert dg.AssetKey(["stage", "raw_data", "session_timestamp"]) not in daily.asset_layer.selected_asset_keys
    assert dg.AssetKey(["raw_data", "user_session_channel"]) in daily.asset_layer.selected_asset_keys
    # Materializing the landed table's stage by hand (no landed files given) is refused, not an empty extract.
    seed(platform_env["source"], seed_day, 1, GeneratorConfig(scale=0.05))
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=DAY, raise_on_error=False,
        asset_selection=[dg.AssetKey(["stage", "raw_data", "session_timestamp"]), dg.AssetKey(["raw_data", "session_timestamp"])],
    )
    assert not result.success
    assert "fed by files landed under landing/session_timestamp/, never extracted" in step_failure_message(result)
    assert _count(warehouse) == 3


def test_landed_files_are_refused_for_a_table_fed_by_extraction(landing):
    defs, instance, root, warehouse = landing
    _drop(root, f"user_session_channel/day={DAY}/x.csv", b"userid,sessionid,channel\n1," + b"a" * 32 + b",Naver\n", gz=False)
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=DAY, raise_on_error=False,
        asset_selection=[dg.AssetKey(["stage", "raw_data", "user_session_channel"]), dg.AssetKey(["raw_data", "user_session_channel"])],
        run_config={"ops": {"stage__raw_data__user_session_channel": {"config": {"landed_files": [f"landing/user_session_channel/day={DAY}/x.csv"]}}}},
    )
    assert not result.success
    assert "fed by extraction from the application database, so landed files are not loaded into it" in step_failure_message(result)


def test_a_run_naming_another_day_than_its_files_is_refused_before_staging(landing):
    defs, instance, root, warehouse = landing
    _drop(root, f"session_timestamp/day={DAY}/morning.csv.gz", _csv(_sessions("a", 3)))
    [request] = _requests(_tick(defs, instance))
    wrong = dg.RunRequest(
        run_key="by-hand", partition_key="2026-11-06", asset_selection=request.asset_selection, run_config=request.run_config,
    )
    result = _run(defs, instance, wrong, raise_on_error=False)
    assert not result.success
    assert f"the file is for day {DAY}, the run for 2026-11-06" in step_failure_message(result)
    assert not (root / "raw_data/session_timestamp/day=2026-11-06").exists()
    assert _count(warehouse) == 0




@pytest.mark.parametrize(
    ("bad_line", "column", "reason"),
    [
        ("{sid},2026-11-05 25:61:00", "ts", "date/time field value out of range"),
        (",2026-11-05 09:00:00", "sessionid", "NULL primary key (sessionid)"),
    ],
    ids=["invalid timestamp", "null key"],
)
def test_errors_name_the_landed_file_and_its_own_line(landing, bad_line, column, reason):
    defs, instance, root, warehouse = landing
    _drop(root, f"session_timestamp/day={DAY}/a_first.csv", _csv(_sessions("a", 2500)), gz=False)
    rows = _sessions("b", 4500)
    rows[3999] = bad_line.format(sid="c" * 32)  # line 4001 of the file: the header is line 1
    _drop(root, f"session_timestamp/day={DAY}/b_second.csv.gz", _csv(rows))
    result = _run(defs, instance, _requests(_tick(defs, instance))[0], raise_on_error=False)
    message = step_failure_message(result)
    assert f"landing/session_timestamp/day={DAY}/b_second.csv.gz line 4001, column {column}" in message
    assert reason in message
    assert _count(warehouse) == 0


def test_a_byte_that_is_not_utf8_is_reported_at_its_line(landing):
    defs, instance, root, warehouse = landing
    rows = [r.encode() for r in _sessions("a", 3000)]
    rows[2500] = b"d" * 32 + b",2026-11-05 10:00:00 caf\xe9"  # Latin-1, line 2502
    _drop(root, f"session_timestamp/day={DAY}/latin1.csv", b"sessionid,ts\n" + b"\n".join(rows) + b"\n", gz=False)
    result = _run(defs, instance, _requests(_tick(defs, instance))[0], raise_on_error=False)
    message = step_failure_message(result)
    assert "latin1.csv line 2502, column ts: not UTF-8: byte 0xe9" in message


def test_an_oversize_value_is_reported_at_the_landed_file_and_line(landing):
    defs, instance, root, _ = landing
    rows = _sessions("a", 50)
    rows[40] = "한" * 11 + ",2026-11-05 10:00:00"  # 33 bytes in varchar(32), line 42
    _drop(root, f"session_timestamp/day={DAY}/wide.csv", _csv(rows), gz=False)
    result = _run(defs, instance, _requests(_tick(defs, instance))[0], raise_on_error=False)
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "redshift_type_limits"]
    assert not check.passed
    assert f"landing/session_timestamp/day={DAY}/wide.csv line 42" in check.description


def test_landed_files_on_s3_are_found_whatever_their_timestamps(platform_env, s3_bucket, s3_endpoint, monkeypatch):
    monkeypatch.setenv("PLATFORM_STAGE_URL", f"s3://{s3_bucket}/stage")
    defs = platform_definitions(TABLES)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    warehouse = environment.build_warehouse().process_config_and_initialize()

    def put(name, rows):
        s3.put_object(Bucket=s3_bucket, Key=f"stage/landing/session_timestamp/day={DAY}/{name}", Body=gzip.compress(_csv(rows), mtime=0))

    with dg.instance_for_test() as instance:
        put("b.csv.gz", _sessions("b", 1))
        [first] = _requests(_tick(defs, instance))
        _run(defs, instance, first)
        # "a" sorts before "b" and may carry the same second, or an earlier one: it is found either way.
        put("a.csv.gz", _sessions("a", 1))
        [second] = _requests(_tick(defs, instance))
        assert len(_landed(second)) == 2
        _run(defs, instance, second)
        assert not _requests(_tick(defs, instance))
    assert sorted(warehouse.query("SELECT left(sessionid, 1) FROM raw_data.session_timestamp")) == [("a",), ("b",)]


def test_a_file_for_the_newest_partition_day_is_requested_in_the_same_tick(landing):
    """The newest day with a partition (yesterday, in the business time zone) is the day landed
    files arrive for: it loads at once, not a day later. A file for the day after (no partition
    yet) waits."""
    from datetime import timedelta

    from warehouse_platform.conventions.partitions import daily_partitions

    defs, instance, root, warehouse = landing
    newest = daily_partitions(RAW_TABLES).get_last_partition_key()
    tomorrow_of_newest = (date.fromisoformat(newest) + timedelta(days=1)).isoformat()
    _drop(root, f"session_timestamp/day={newest}/morning.csv.gz", _csv(_sessions("a", 3, day=newest)))
    _drop(root, f"session_timestamp/day={tomorrow_of_newest}/early.csv.gz", _csv(_sessions("b", 2, day=tomorrow_of_newest)))
    [request] = _requests(_tick(defs, instance))
    assert request.partition_key == newest
    assert _landed(request) == [f"landing/session_timestamp/day={newest}/morning.csv.gz"]
    _run(defs, instance, request)
    assert _count(warehouse) == 3
