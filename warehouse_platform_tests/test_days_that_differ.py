"""Days no lookback reaches: a purchase deleted or changed weeks after its day, a session the
application removed. The sensor `days_that_differ_from_the_source` compares every loaded day of
the daily extracted tables with the source (rows and a hash of every column, one grouped scan
per side) and re-reads the days that differ. Real embedded Postgres, a real Dagster instance,
real sensor ticks and the runs they request."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pytest

from warehouse_platform import environment
from warehouse_platform.automation.sensors import reconciled_tables
from warehouse_platform.catalog import load_catalog, table
from warehouse_platform.quality import evaluations
from warehouse_platform.sample_data.session_generator import GeneratorConfig
from warehouse_platform.sql import parity as parity_sql
from warehouse_platform_tests.key_truth_harness import execute
from warehouse_platform_tests.platform_runs import platform_definitions, run_job, run_request, seed

FIRST = date(2026, 11, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(3)]
SESSION_TRANSACTION, SESSION_TIMESTAMP = table("session_transaction"), table("session_timestamp")


def _tick(defs, instance):
    sensor = defs.get_sensor_def("days_that_differ_from_the_source")
    resources = {"source_db": defs.resources["source_db"], "warehouse": defs.resources["warehouse"]}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        return sensor(context)


def _requested(result) -> set[tuple[str, str]]:
    requests = result.run_requests if isinstance(result, dg.SensorResult) else []
    return {(r.asset_selection[-1].path[-1], r.partition_key) for r in requests}


@pytest.fixture
def loaded(platform_env):
    seed(platform_env["source"], FIRST, len(DAYS), GeneratorConfig(scale=0.05))
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        for day in DAYS:
            run_job(defs, "extract_and_load_day", instance, partition_key=day.isoformat())
        yield defs, instance, platform_env["source"]


def test_days_the_source_changed_after_their_lookback_are_re_read_and_agree_again(loaded):
    defs, instance, source = loaded
    result = _tick(defs, instance)
    assert isinstance(result, dg.SkipReason) and "agrees with the source" in result.skip_message

    [(first_purchases,)] = source.query(
        "SELECT count(*) FROM app.transactions WHERE updated_at::date = %(d)s", {"d": DAYS[0]})
    assert first_purchases >= 3
    execute(
        source,
        # Purchases of the first day deleted (a purge), one changed without its cursor moving.
        "DELETE FROM app.transactions WHERE sessionid IN (SELECT sessionid FROM app.transactions "
        "WHERE updated_at::date = %(d0)s ORDER BY sessionid LIMIT 2)",
        "UPDATE app.transactions SET amount = amount + 1 WHERE sessionid = (SELECT sessionid FROM app.transactions "
        "WHERE updated_at::date = %(d0)s ORDER BY sessionid DESC LIMIT 1)",
        # A session of the second day removed with its purchase, if any.
        "DELETE FROM app.transactions WHERE sessionid = (SELECT min(sessionid) FROM app.sessions WHERE ts::date = %(d1)s)",
        "DELETE FROM app.sessions WHERE sessionid = (SELECT min(sessionid) FROM app.sessions WHERE ts::date = %(d1)s)",
        params={"d0": DAYS[0], "d1": DAYS[1]},
    )
    requested = _requested(_tick(defs, instance))
    assert ("session_transaction", DAYS[0].isoformat()) in requested
    assert {("session_timestamp", DAYS[1].isoformat()), ("user_session_channel", DAYS[1].isoformat())} <= requested
    assert all(day != DAYS[2].isoformat() for _, day in requested), "an unchanged day is not read again"

    # The same difference asks for the same runs (run keys), so a failing re-read is not a storm.
    first_keys = {r.run_key for r in _tick(defs, instance).run_requests}
    for request in _tick(defs, instance).run_requests:
        assert request.run_key in first_keys
        run_request(defs, instance, request)

    warehouse = environment.build_warehouse().process_config_and_initialize()
    source_db = environment.build_source_database().process_config_and_initialize()
    for name, day in requested:
        assert evaluations.source_parity(warehouse, source_db, table(name), day).passed, (name, day)
    result = _tick(defs, instance)
    assert isinstance(result, dg.SkipReason) and "agrees with the source" in result.skip_message


def test_only_daily_extracted_tables_that_delete_hard_are_reconciled():
    names = {spec.name for spec in reconciled_tables(load_catalog())}
    assert {"session_transaction", "session_timestamp", "user_session_channel"} <= names
    assert not names & {"users", "channel", "app_events", "access_log"}


def test_the_day_totals_read_a_range_once_per_side_in_both_dialects():
    from warehouse_platform_tests.test_sql_builders import _parse_redshift

    source = parity_sql.day_totals_sql(SESSION_TRANSACTION, "source")
    assert "GROUP BY 1" in source and "%(range_start)s" in source and "%(range_end)s" in source
    redshift = parity_sql.day_totals_sql(SESSION_TIMESTAMP, "redshift")
    assert '"_partition_date" >= %(first_day)s' in redshift and "STRTOL" in redshift.upper()
    _parse_redshift(redshift)
