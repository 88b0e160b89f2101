"""Analytics honest about their inputs: a model is stale when a daily table it reads is (the rule
of newest_day_fresh, carried through lineage); declarative automation does not rebuild a model
while a load of its inputs is still running or over a day that failed a blocking check; an empty
day says so. Real runs on the embedded Postgres, automation evaluated against a real instance."""

import threading
import time
from datetime import date, timedelta

import dagster as dg

from warehouse_platform import environment
from warehouse_platform.catalog import load_catalog, table
from warehouse_platform.conventions import automation_conditions, check_names
from warehouse_platform.quality.inputs_freshness import daily_inputs, inputs_fresh
from warehouse_platform.quality.newest_day import newest_day_fresh
from warehouse_platform.rules.freshness import StaleInput, days_behind, is_fresh, newest_loaded_day, stale_inputs
from warehouse_platform.sample_data.session_generator import GeneratorConfig
from warehouse_platform_tests.platform_runs import materialization_metadata, platform_definitions, run_job, seed

SESSION_TABLES = ["raw_data.session_timestamp", "raw_data.session_transaction", "raw_data.user_session_channel"]
SUMMARY = dg.AssetKey(["analytics", "session_summary"])
CHANNEL = [dg.AssetKey(["stage", "raw_data", "channel"]), dg.AssetKey(["raw_data", "channel"])]


# The rule, at its boundaries.

def test_a_table_holding_yesterday_is_fresh_and_one_holding_the_day_before_is_one_day_behind_and_stale():
    today = date(2026, 12, 6)
    assert days_behind(date(2026, 12, 5), today) == 0 and is_fresh(date(2026, 12, 5), today)
    # One past the limit: no day of grace.
    assert days_behind(date(2026, 12, 4), today) == 1 and not is_fresh(date(2026, 12, 4), today)
    assert days_behind(None, today) is None and not is_fresh(None, today)


def test_only_the_newest_of_several_loaded_days_counts_in_whatever_order_they_are_listed():
    assert newest_loaded_day(["2026-12-05", "2026-10-26", "2026-11-30"]) == date(2026, 12, 5)
    assert newest_loaded_day([]) is None


def test_stale_inputs_name_each_stale_table_with_how_far_behind_most_behind_first():
    today = date(2026, 12, 6)
    newest = {"raw_data.a": date(2026, 12, 5), "raw_data.b": date(2026, 12, 4), "raw_data.c": date(2026, 11, 6), "raw_data.d": None}
    assert stale_inputs(newest, today) == [
        StaleInput("raw_data.d", None, None), StaleInput("raw_data.c", date(2026, 11, 6), 29), StaleInput("raw_data.b", date(2026, 12, 4), 1),
    ]
    assert StaleInput("raw_data.c", date(2026, 11, 6), 29).describe() == "raw_data.c: newest loaded day 2026-11-06, 29 days behind"


def test_a_model_reads_the_daily_tables_its_upstream_models_read():
    defs = platform_definitions()
    specs = [spec for assets_def in defs.assets if isinstance(assets_def, dg.AssetsDefinition) for spec in assets_def.specs]
    inputs = {key.to_user_string(): [t.qualified_name for t in tables] for key, tables in daily_inputs(specs, load_catalog()).items()}
    # channel_summary reads session_summary and the channel dimension: the session tables, through session_summary.
    assert inputs["analytics/channel_summary"] == SESSION_TABLES
    assert inputs["analytics/session_summary"] == SESSION_TABLES
    assert inputs["analytics/daily_active_users"] == ["raw_data.app_events"]
    # Every model reading a daily table carries the check.
    checks = {k.asset_key.to_user_string() for k in defs.resolve_asset_graph().asset_check_keys if k.name == check_names.INPUTS_FRESH}
    assert checks == set(inputs)


# The rule on a real warehouse: two days loaded by real runs.

def test_freshness_is_judged_on_the_newest_of_several_loaded_days_at_the_limit_and_one_past_it(platform_env):
    first = date(2026, 11, 5)
    seed(platform_env["source"], first, 2, GeneratorConfig(scale=0.05))
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        # The newer day first: the ledger lists days oldest first whatever order they loaded in.
        for day in (first + timedelta(days=1), first):
            run_job(defs, "extract_and_load_day", instance, day.isoformat())
    warehouse = environment.build_warehouse().process_config_and_initialize()
    newest = first + timedelta(days=1)
    spec = table("session_timestamp")
    inputs = [table(name.split(".")[1]) for name in SESSION_TABLES]

    # Exactly at the limit: the newest day is yesterday.
    at_limit = newest + timedelta(days=1)
    raw = newest_day_fresh(warehouse, spec, at_limit)
    assert raw.passed and raw.metadata["newest_loaded_day"].value == newest.isoformat()
    model = inputs_fresh(warehouse, inputs, at_limit)
    assert model.passed and model.description.startswith(f"fresh: every daily table it reads holds yesterday ({newest})")

    # One past it: a day behind, judged on the newest day (not the older one, which is two behind).
    past = newest + timedelta(days=2)
    raw = newest_day_fresh(warehouse, spec, past)
    assert not raw.passed and raw.metadata["days_behind"].value == "1"
    assert raw.description == f"stale: the newest loaded day is {newest}, 1 day behind yesterday ({newest + timedelta(days=1)})"
    model = inputs_fresh(warehouse, inputs, past)
    assert not model.passed and model.severity == dg.AssetCheckSeverity.ERROR
    assert f"raw_data.session_timestamp: newest loaded day {newest}, 1 day behind" in model.description
    assert model.metadata["stale_inputs"].value == ", ".join(SESSION_TABLES)
    rows = {r.data["table"]: (r.data["newest_loaded_day"], r.data["days_behind"]) for r in model.metadata["inputs"].value.records}
    assert rows == dict.fromkeys(SESSION_TABLES, (newest.isoformat(), "1"))

    # Without a run, against today's calendar: the sensor records each model's check where the UI reads it.
    sensor = defs.get_sensor_def("analytics_inputs_freshness")
    with dg.build_sensor_context(resources={"warehouse": defs.resources["warehouse"]}) as context:
        tick = sensor.evaluate_tick(context)
    recorded = {e.asset_key.to_user_string(): e for e in tick.asset_events}
    assert {e.check_name for e in tick.asset_events} == {check_names.INPUTS_FRESH}
    assert not recorded["analytics/channel_summary"].passed
    assert f"raw_data.session_timestamp: newest loaded day {newest}, " in recorded["analytics/channel_summary"].description


# Declarative automation, against a real instance.

def _requested_and_why(defs, instance, cursor):
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    [summary] = [r for r in result.results if r.key == SUMMARY]
    labels = {}

    def walk(node):
        if node.condition.get_label():
            labels[node.condition.get_label()] = node.true_subset.size > 0
        for child in node.child_results:
            walk(child)

    walk(summary)
    return result, result.get_num_requested(SUMMARY), labels


def test_analytics_are_not_requested_while_a_load_of_the_same_day_is_still_running(platform_env):
    """Planted fault: without `~any_deps_in_progress()` the model is requested here, over half a day."""
    first = date(2026, 11, 5)
    day = (first + timedelta(days=1)).isoformat()
    seed(platform_env["source"], first, 2, GeneratorConfig(scale=0.05))
    defs = platform_definitions()
    job = defs.resolve_implicit_global_asset_job_def()
    warehouse = environment.build_warehouse().process_config_and_initialize()
    with dg.instance_for_test() as instance:
        job.execute_in_process(instance=instance, asset_selection=CHANNEL)
        run_job(defs, "extract_and_load_day", instance, first.isoformat())
        result, _, _ = _requested_and_why(defs, instance, None)
        # The next day: session_timestamp loads, and user_session_channel's load of the same day
        # waits on a lock this test holds on its table, so its run is in progress.
        layers = lambda name: [dg.AssetKey(["stage", "raw_data", name]), dg.AssetKey(["raw_data", name])]  # noqa: E731
        job.execute_in_process(instance=instance, partition_key=day, asset_selection=layers("session_timestamp"))
        blocker = warehouse.connect_autocommit()
        blocker.autocommit = False
        running: list = []
        loading = threading.Thread(target=lambda: running.append(job.execute_in_process(
            instance=instance, partition_key=day, asset_selection=layers("user_session_channel"), raise_on_error=False,
        )))
        try:
            with blocker.cursor() as cur:
                cur.execute("LOCK TABLE raw_data.user_session_channel IN ACCESS EXCLUSIVE MODE")
            loading.start()
            deadline = time.monotonic() + 120
            while not _waits_on_lock(warehouse, "user_session_channel"):
                assert time.monotonic() < deadline and loading.is_alive(), "the load never reached the table"
                time.sleep(0.2)
            [run] = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
            assert run.tags["dagster/partition"] == day
            held, requested, why = _requested_and_why(defs, instance, result.cursor)
            assert requested == 0
            assert why[automation_conditions.NOTHING_UPSTREAM_IN_PROGRESS] is False
            assert why["any dependency's data changed"] is True  # session_timestamp's new day
        finally:
            blocker.rollback()
            blocker.close()
            loading.join(timeout=300)
        assert running and running[0].success
        # The day's loads are done: now the model is requested.
        _, requested, _ = _requested_and_why(defs, instance, held.cursor)
        assert requested == 1


def _waits_on_lock(warehouse, name: str) -> bool:
    [(waiting,)] = warehouse.query(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = to_regclass(%s)", (f"raw_data.{name}",)
    )
    return waiting > 0


def test_an_empty_day_says_so_fails_its_run_and_holds_analytics_back(platform_env):
    """The source has nothing for the second day: its load reports '0 rows', not 'already loaded',
    with row_volume's ERROR beside it; the blocking check fails the run (so a backfill of the day
    fails); automation says which clause held the model back."""
    from warehouse_platform import cli

    first = date(2026, 11, 5)
    empty = (first + timedelta(days=1)).isoformat()
    seed(platform_env["source"], first, 1, GeneratorConfig(scale=0.05))
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance, asset_selection=CHANNEL)
        run_job(defs, "extract_and_load_day", instance, first.isoformat())
        before, _, _ = _requested_and_why(defs, instance, None)
        result = defs.resolve_job_def("extract_and_load_day").execute_in_process(
            instance=instance, partition_key=empty, raise_on_error=False,
        )
        # Dagster 1.13: a failed ERROR result of a blocking check fails its step and the run; the
        # day's raw asset is still recorded as materialized (it holds what the source has: nothing).
        assert not result.success
        assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.FAILURE
        failures = [e for e in result.all_events if e.is_step_failure]
        # The steps that failed are the tables' checks of each load, and only for their row volume.
        assert failures and all(e.step_key.endswith("__checks_of_each_load") for e in failures)
        blocked_by = {e.check_name for e in result.get_asset_check_evaluations()
                      if not e.passed and e.blocking and e.severity == dg.AssetCheckSeverity.ERROR}
        assert blocked_by == {check_names.ROW_VOLUME}
        assert "blocking asset check failed with ERROR severity" in failures[0].step_failure_data.error.to_string()
        # Empty is reconciled as empty: the day's manifest, no files, nothing missing.
        checks = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
        assert checks[("session_timestamp", check_names.ROWS_STAGED_EQUAL_ROWS_LOADED)].passed
        meta = materialization_metadata(result, ["raw_data", "session_timestamp"])
        assert meta["outcome"] == "0 rows: the source has nothing for this day"
        assert meta["already_loaded"] is False and meta["rows_staged"] == 0
        assert f"{empty} holds no rows" in meta["row_volume"]
        assert "0 rows: the source has nothing for this day" in meta["copy_statement"]
        assert "already loaded" not in meta["copy_statement"]
        logged = [e.user_message for e in instance.all_logs(result.run_id) if "the source has nothing" in e.user_message]
        assert any(f"raw_data.session_timestamp {empty}: 0 rows" in m and "row_volume:" in m for m in logged)
        assert "raw_data.session_timestamp 0 rows: the source has nothing for this day" in "\n".join(cli._load_summary(result))
        # The day's check status: row_volume failed with ERROR on that partition.
        [volume] = [e for e in result.get_asset_check_evaluations()
                    if e.asset_key == dg.AssetKey(["raw_data", "session_timestamp"]) and e.check_name == check_names.ROW_VOLUME]
        assert not volume.passed and volume.severity == dg.AssetCheckSeverity.ERROR and volume.partition == empty
        # Run again: still "0 rows", not "already loaded".
        again = defs.resolve_job_def("extract_and_load_day").execute_in_process(
            instance=instance, partition_key=empty, raise_on_error=False,
        )
        assert materialization_metadata(again, ["raw_data", "session_timestamp"])["outcome"] == "0 rows: the source has nothing for this day"
        # Automation: the day changed the inputs' data, but an input's day failed a blocking check.
        _, requested, why = _requested_and_why(defs, instance, before.cursor)
        assert requested == 0
        assert why["any dependency's data changed"] is True
        assert why[automation_conditions.NO_INPUT_DAY_FAILED_A_BLOCKING_CHECK] is False


def test_the_days_freshness_counts_are_the_ledgers_days_holding_rows_in_both_dialects():
    from sqlglot import exp

    from warehouse_platform.sql.quality import days_with_rows_sql
    from warehouse_platform_tests.test_sql_builders import _parse_redshift

    sql = days_with_rows_sql("raw_data")
    assert sql == (
        'SELECT partition_key FROM "raw_data"."_load_ledger" WHERE table_name = %(table_name)s AND active '
        "GROUP BY partition_key HAVING sum(row_count) > 0 ORDER BY partition_key"
    )
    parsed = _parse_redshift(sql)
    assert parsed.find(exp.Having) is not None and parsed.find(exp.Group) is not None
