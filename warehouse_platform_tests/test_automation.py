"""The daily schedule, declarative automation of analytics after a raw load, the backfill command.
(The landing sensor has its own module, test_landing.py.)"""

from datetime import date, datetime, timedelta, timezone

import dagster as dg

from warehouse_platform import environment
from warehouse_platform.catalog import load_catalog
from warehouse_platform.sample_data.session_generator import GeneratorConfig
from warehouse_platform_tests.platform_runs import platform_definitions, run_job, seed

DAY = "2026-11-05"


def test_daily_schedule_requests_yesterday_then_the_incremental_tables_lookback_days():
    from warehouse_platform.definitions import build_definitions

    defs = build_definitions()
    schedule = defs.resolve_schedule_def("daily_extract_and_load")
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc), repository_def=defs.get_repository_def()
    )
    request, *lookback = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-11-24" and request.asset_selection is None  # every daily table
    # Each day before, newest first, as far back as the longest lookback, for the tables whose
    # lookback reaches it (shipped: session_transaction, lookback_days 2; a table a user adds counts too).
    reach = {s.name: s.incremental.lookback_days for s in load_catalog() if s.partitioned and s.incremental and s.source}
    assert reach.get("session_transaction") == 2
    assert [r.partition_key for r in lookback] == [
        (date(2026, 11, 24) - timedelta(days=back)).isoformat() for back in range(1, max(reach.values()) + 1)
    ]
    for back, r in enumerate(lookback, 1):
        assert {k.to_user_string() for k in r.asset_selection} == {
            f"{layer}raw_data/{name}" for name, days in reach.items() if days >= back for layer in ("stage/", "")
        }
    assert schedule.execution_timezone == "UTC" and schedule.cron_schedule == "0 2 * * *"
    assert schedule.job_name == "extract_and_load_day"


def test_analytics_are_requested_after_a_raw_load_whose_checks_passed(platform_env):
    seed(platform_env["source"], date(2026, 11, 5), 1, GeneratorConfig(scale=0.1))
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        channel = [dg.AssetKey(["stage", "raw_data", "channel"]), dg.AssetKey(["raw_data", "channel"])]
        defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance, asset_selection=channel)
        before = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        run_job(defs, "extract_and_load_day", instance, DAY)
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
        run_job(defs, "extract_and_load_day", instance, DAY)
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
        assert after.get_num_requested(dg.AssetKey(["analytics", "session_summary"])) == 0


def test_automation_sensor_is_named_and_running_by_default():
    from warehouse_platform.definitions import build_definitions

    defs = build_definitions()

    sensor = defs.get_sensor_def("declarative_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.get_sensor_def("landing_files").default_status == dg.DefaultSensorStatus.STOPPED


def test_backfill_cli_loads_a_range_of_days_and_a_rerun_changes_nothing(platform_env, tmp_path, monkeypatch, capsys):
    from warehouse_platform import cli

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    first, days = date(2026, 11, 5), 2
    requested = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    backfill = ["backfill", "--from", requested[0], "--to", requested[-1]]
    seed(platform_env["source"], first, days, GeneratorConfig(scale=0.1))
    assert cli.main(backfill) == 0
    warehouse = environment.build_warehouse().process_config_and_initialize()
    counts = dict(warehouse.query("SELECT _partition_date::text, count(*) FROM raw_data.session_timestamp GROUP BY 1"))
    assert set(counts) == set(requested)
    capsys.readouterr()
    assert cli.main(backfill) == 0
    out = capsys.readouterr().out.splitlines()
    assert all("already loaded" in line for line in out if line[:10] in requested) and out[-1] == "no failures"
    assert dict(warehouse.query("SELECT _partition_date::text, count(*) FROM raw_data.session_timestamp GROUP BY 1")) == counts
    # One run per requested day, for each of the two backfills; after the first, which loaded
    # rows, one run building the analytics that read the tables loaded (after the second, which
    # loaded nothing, none: nothing is stale).
    runs = dg.DagsterInstance.get().get_runs()
    days = [r for r in runs if r.job_name == "extract_and_load_day"]
    assert sorted(r.tags["dagster/partition"] for r in days) == sorted(requested * 2)
    [analytics] = [r for r in runs if r.job_name == "build_analytics"]
    assert analytics.asset_selection and all(
        k.path[0] == "analytics" or k.path[:2] == ["stage", "exports"] for k in analytics.asset_selection)
    assert analytics.status.value == "SUCCESS"


def test_analytics_rebuild_only_when_a_raw_data_version_changed(platform_env):
    from warehouse_platform.sample_data.source_seed import seed_source_database

    seed(platform_env["source"], date(2026, 11, 5), 1, GeneratorConfig(scale=0.1))
    defs = platform_definitions()
    summary = dg.AssetKey(["analytics", "session_summary"])
    with dg.instance_for_test() as instance:
        channel = [dg.AssetKey(["stage", "raw_data", "channel"]), dg.AssetKey(["raw_data", "channel"])]
        defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance, asset_selection=channel)
        first = run_job(defs, "extract_and_load_day", instance, DAY)
        ticks = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        # An already-loaded day, run again: a new materialization with the same data version.
        rerun = run_job(defs, "extract_and_load_day", instance, DAY)
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
        changed = run_job(defs, "extract_and_load_day", instance, DAY)
        new_version = [e for e in changed.get_asset_materialization_events() if e.asset_key == key][0]
        assert new_version.event_specific_data.materialization.tags["dagster/data_version"] != versions[0]
        ticks = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=ticks.cursor)
        assert ticks.get_num_requested(summary) == 1


def test_the_partitions_start_on_the_first_day_the_demo_and_the_seed_fill():
    """One declared first day (the catalog's history_start, contract/history.py): the UI shows no
    empty days before the demo's data."""
    from warehouse_platform import cli
    from warehouse_platform.catalog import load_catalog
    from warehouse_platform.conventions.partitions import daily_partitions

    tables = load_catalog()
    starts = {spec.history_start for spec in tables if spec.partitioned}
    # The shipped tables share one first day: the partitions, the demo and the seed start on it.
    assert len(starts) == 1
    assert daily_partitions(tables).get_first_partition_key() == min(starts).isoformat()
    assert cli.demo_first_day() == max(starts)
