"""Landing sensor ticks against a real instance (folder and S3), the daily schedule, declarative
automation of analytics after a raw load."""

import gzip
import time
from datetime import date, datetime, timezone

import boto3
import dagster as dg

from warehouse_platform import environment
from warehouse_platform.automation.schedules import daily_session_load
from warehouse_platform.automation.sensors import landing_files
from warehouse_platform.lib.landing import LandingCursor
from warehouse_platform.lib.session_generator import GeneratorConfig
from warehouse_platform_tests.platform_runs import platform_definitions, run_job, seed

DAY = "2026-11-05"


def _csv(rows, header="sessionid,ts") -> bytes:
    return gzip.compress(("\n".join([header, *rows]) + "\n").encode(), mtime=0)


def _tick(instance, stage, cursor=None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"stage": stage}) as context:
        return landing_files(context)


def _materialize(defs, instance, request: dg.RunRequest):
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance, partition_key=request.partition_key, asset_selection=list(request.asset_selection),
        run_config=request.run_config, tags=request.tags,
    )


def test_landing_files_in_a_folder_are_loaded_once(platform_env):
    defs = platform_definitions()
    stage = defs.resources["stage"]
    root = platform_env["stage_root"]
    warehouse = environment.build_warehouse().process_config_and_initialize()
    with dg.instance_for_test() as instance:
        nothing = _tick(instance, stage)
        assert isinstance(nothing, dg.SkipReason) and "no new files among 0" in nothing.skip_message

        day = root / "landing/session_timestamp" / f"day={DAY}"
        day.mkdir(parents=True)
        (day / "morning.csv.gz").write_bytes(_csv([f"{'a' * 31}{i},{DAY} 08:0{i}:00" for i in range(3)]))
        (root / "landing/session_timestamp/forgot_the_day.csv").write_text("sessionid,ts\n")
        (root / "landing/no_such_table").mkdir(parents=True)
        (root / "landing/no_such_table/x.csv").write_text("a\n")
        first = _tick(instance, stage)
        [request] = first.run_requests
        assert request.partition_key == DAY and request.run_key.startswith("landing:session_timestamp:2026-11-05:")
        assert request.run_config["ops"]["stage__raw_data__session_timestamp"]["config"]["landed_files"] == [
            f"landing/session_timestamp/day={DAY}/morning.csv.gz"
        ]
        result = _materialize(defs, instance, request)
        assert result.success
        assert warehouse.query("SELECT count(*) FROM raw_data.session_timestamp") == [(3,)]
        checks = result.get_asset_check_evaluations()
        assert checks and all(c.passed for c in checks)  # same checks as extracted days

        again = _tick(instance, stage, first.cursor)
        assert isinstance(again, dg.SkipReason) or not again.run_requests

        # A second file for the same day: the day becomes both files, not just the new one.
        (day / "evening.csv.gz").write_bytes(_csv([f"{'b' * 31}{i},{DAY} 20:0{i}:00" for i in range(2)]))
        second = _tick(instance, stage, first.cursor)
        [request2] = second.run_requests
        assert len(request2.run_config["ops"]["stage__raw_data__session_timestamp"]["config"]["landed_files"]) == 2
        assert request2.run_key != request.run_key
        assert _materialize(defs, instance, request2).success
        assert warehouse.query("SELECT count(*) FROM raw_data.session_timestamp") == [(5,)]


def test_bad_names_are_reported_not_ignored(platform_env):
    stage = platform_definitions().resources["stage"]
    root = platform_env["stage_root"]
    (root / "landing/sessions_v2").mkdir(parents=True)
    (root / "landing/sessions_v2/x.csv").write_text("a\n")
    (root / "landing/session_timestamp").mkdir(parents=True)
    (root / "landing/session_timestamp/flat.csv").write_text("sessionid,ts\n")
    with dg.instance_for_test() as instance:
        result = _tick(instance, stage)
    message = result.skip_reason.skip_message if isinstance(result, dg.SensorResult) else result.skip_message
    assert "unknown table 'sessions_v2'" in message
    assert "session_timestamp is loaded by day; put the file under landing/session_timestamp/day=YYYY-MM-DD/" in message


def test_two_files_landing_in_the_same_second_on_s3_both_load_once(platform_env, s3_bucket, s3_endpoint, monkeypatch):
    monkeypatch.setenv("PLATFORM_STAGE_URL", f"s3://{s3_bucket}/stage")
    defs = platform_definitions()
    stage = defs.resources["stage"]
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    warehouse = environment.build_warehouse().process_config_and_initialize()

    def put(name, rows):
        s3.put_object(Bucket=s3_bucket, Key=f"stage/landing/session_timestamp/day={DAY}/{name}", Body=_csv(rows))

    with dg.instance_for_test() as instance:
        # Wait for the start of a second so both writes share it (moto stamps to the second).
        time.sleep(1 - (time.time() % 1) + 0.05)
        put("b.csv.gz", [f"{'b' * 32},{DAY} 10:00:00"])
        first = _tick(instance, stage)
        put("a.csv.gz", [f"{'a' * 32},{DAY} 09:00:00"])  # same second, and a key before "b"
        stamps = {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix="stage/landing/")["Contents"]}
        assert len(set(stamps.values())) == 1, "both objects should carry the same second"
        second = _tick(instance, stage, first.cursor)
        [late] = second.run_requests
        assert len(late.run_config["ops"]["stage__raw_data__session_timestamp"]["config"]["landed_files"]) == 2
        assert _materialize(defs, instance, late).success
        third = _tick(instance, stage, second.cursor)
        assert isinstance(third, dg.SkipReason)
    assert sorted(warehouse.query("SELECT sessionid FROM raw_data.session_timestamp")) == [("a" * 32,), ("b" * 32,)]


def test_cursor_keeps_the_keys_of_its_last_second_across_a_round_trip():
    from warehouse_platform.lib.landing import LandedObject

    second = datetime(2026, 11, 25, 9, 0, 0, tzinfo=timezone.utc)
    seen = [LandedObject("landing/t/b.csv", second, "1"), LandedObject("landing/t/a.csv", second.replace(second=0, minute=59, hour=8), "2")]
    cursor = LandingCursor.decode(LandingCursor().advance(seen).encode())
    assert cursor.last_modified == second and cursor.keys_at_last_modified == {"landing/t/b.csv"}
    assert not cursor.is_new(seen[0]) and not cursor.is_new(seen[1])
    assert cursor.is_new(LandedObject("landing/t/c.csv", second, "3"))  # same second, unseen key
    assert cursor.is_new(LandedObject("landing/t/b.csv", second.replace(second=1), "4"))  # rewritten later


def test_daily_schedule_requests_yesterday():
    from warehouse_platform.definitions import defs

    schedule = defs.resolve_schedule_def(daily_session_load.name)
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc))
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-11-24"
    assert schedule.execution_timezone == "UTC" and schedule.cron_schedule == "0 2 * * *"
    assert schedule.job_name == "load_daily_sessions"


def test_analytics_are_requested_after_a_raw_load_whose_checks_passed(platform_env):
    seed(platform_env["source"], date(2026, 11, 5), 1, GeneratorConfig(scale=0.1))
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        channel = [dg.AssetKey(["stage", "raw_data", "channel"]), dg.AssetKey(["raw_data", "channel"])]
        defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance, asset_selection=channel)
        before = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        run_job(defs, "load_daily_sessions", instance, DAY)
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
        assert after.get_num_requested(dg.AssetKey(["analytics", "session_summary"])) == 1
        assert after.get_num_requested(dg.AssetKey(["raw_data", "session_timestamp"])) == 0
        # Nothing new since: nothing requested again.
        assert dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor).total_requested == 0


def test_analytics_wait_while_a_blocking_check_upstream_has_not_passed(platform_env):
    # The channel dimension has never been loaded (so never checked): analytics must not build.
    seed(platform_env["source"], date(2026, 11, 5), 1, GeneratorConfig(scale=0.1))
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        before = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        run_job(defs, "load_daily_sessions", instance, DAY)
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
        assert after.get_num_requested(dg.AssetKey(["analytics", "session_summary"])) == 0


def test_automation_sensor_is_named_and_running_by_default():
    from warehouse_platform.definitions import defs

    sensor = defs.get_sensor_def("declarative_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.get_sensor_def("landing_files").default_status == dg.DefaultSensorStatus.STOPPED


def test_backfill_cli_loads_a_range_of_days_and_a_rerun_changes_nothing(platform_env, tmp_path, monkeypatch, capsys):
    from warehouse_platform import cli

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    seed(platform_env["source"], date(2026, 11, 5), 2, GeneratorConfig(scale=0.1))
    assert cli.main(["backfill", "--from", "2026-11-05", "--to", "2026-11-06"]) == 0
    warehouse = environment.build_warehouse().process_config_and_initialize()
    counts = dict(warehouse.query("SELECT _partition_date::text, count(*) FROM raw_data.session_timestamp GROUP BY 1"))
    assert set(counts) == {"2026-11-05", "2026-11-06"}
    assert cli.main(["backfill", "--from", "2026-11-05", "--to", "2026-11-06"]) == 0
    assert "already loaded" in capsys.readouterr().out.splitlines()[-1]
    assert dict(warehouse.query("SELECT _partition_date::text, count(*) FROM raw_data.session_timestamp GROUP BY 1")) == counts
    runs = dg.DagsterInstance.get().get_runs()
    assert len(runs) == 4 and all(r.tags.get("dagster/partition") for r in runs)


def test_analytics_rebuild_only_when_a_raw_data_version_changed(platform_env):
    from warehouse_platform.extract.source_seed import seed_source_database

    seed(platform_env["source"], date(2026, 11, 5), 1, GeneratorConfig(scale=0.1))
    defs = platform_definitions()
    summary = dg.AssetKey(["analytics", "session_summary"])
    with dg.instance_for_test() as instance:
        channel = [dg.AssetKey(["stage", "raw_data", "channel"]), dg.AssetKey(["raw_data", "channel"])]
        defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance, asset_selection=channel)
        first = run_job(defs, "load_daily_sessions", instance, DAY)
        ticks = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        # An already-loaded day, run again: a new materialization with the same data version.
        rerun = run_job(defs, "load_daily_sessions", instance, DAY)
        key = dg.AssetKey(["raw_data", "session_timestamp"])
        versions = [
            [e for e in r.get_asset_materialization_events() if e.asset_key == key][0].event_specific_data.materialization.tags["dagster/data_version"]
            for r in (first, rerun)
        ]
        assert versions[0] == versions[1]
        ticks = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=ticks.cursor)
        assert ticks.get_num_requested(summary) == 0
        # The source changed for that day: new files, a new data version, a rebuild.
        seed_source_database(platform_env["source"], [date(2026, 11, 5)], GeneratorConfig(scale=0.2))
        changed = run_job(defs, "load_daily_sessions", instance, DAY)
        new_version = [e for e in changed.get_asset_materialization_events() if e.asset_key == key][0]
        assert new_version.event_specific_data.materialization.tags["dagster/data_version"] != versions[0]
        ticks = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=ticks.cursor)
        assert ticks.get_num_requested(summary) == 1
