"""A log event retried across midnight: the same event_id in two neighbouring days' files is one
row of raw_data, the later day's copy, whatever order the days are loaded in, and the blocking
duplicate-key check passes. Real landing sensor ticks and real runs (DuckDB structuring, the
folder stage, COPY into the embedded Postgres, the checks)."""

import json
from dataclasses import replace
from datetime import date, timedelta
from types import SimpleNamespace

import dagster as dg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warehouse_platform import environment
from warehouse_platform.catalog import table
from warehouse_platform.contract.table_spec import Column, LoadMode, RowsFrom, TableSpec
from warehouse_platform.conventions import check_names
from warehouse_platform.quality import evaluations
from warehouse_platform.stage.io_manager import read_staged_batch
from warehouse_platform.staged_files.manifest import table_folder
from warehouse_platform.warehouse.loader import load_staged_batch
from warehouse_platform_tests.platform_runs import land_in_folder, landing_requests, run_request
from warehouse_platform_tests.staged_batches import hand_written_batch

MONDAY, TUESDAY = date(2026, 11, 3), date(2026, 11, 4)
RETRIED = "e-retried-at-midnight"


def _event(event_id: str, ts: str, attempt: int) -> dict:
    return {"event_id": event_id, "event": "page_view", "user_id": 7, "ts": ts, "properties": {"page": "/", "attempt": attempt}}


# The client sent the event at 23:59:59 (Seoul), the shipper filed it under Monday; the ack was
# lost and the retry, a second later, was filed under Tuesday.
MONDAY_EVENTS = [_event("e-monday", "2026-11-03T10:00:00+09:00", 1), _event(RETRIED, "2026-11-03T23:59:59+09:00", 1)]
TUESDAY_EVENTS = [_event(RETRIED, "2026-11-03T23:59:59+09:00", 2), _event("e-tuesday", "2026-11-04T08:00:00+09:00", 1)]


def _file(day: date, events: list[dict], name: str = "events.jsonl") -> SimpleNamespace:
    data = "".join(json.dumps(e) + "\n" for e in events).encode()
    return SimpleNamespace(key=f"landing/logs/app_events/day={day}/{name}", data=data)


def _land_and_load(platform, files) -> dg.ExecuteInProcessResult:
    """Land the files, tick the landing sensor and run the one run it requests."""
    defs, instance, root, _ = platform
    land_in_folder(root, files)
    [request] = landing_requests(defs, instance)
    return run_request(defs, instance, request)


def _copies(warehouse, event_id: str) -> list[tuple]:
    return warehouse.query(
        "SELECT _partition_date, properties->>'attempt' FROM raw_data.app_events WHERE event_id = %s ORDER BY 1", (event_id,)
    )


def _duplicate_check_of_the_run(result) -> dg.AssetCheckEvaluation:
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == check_names.DUPLICATE_PRIMARY_KEYS]
    return check


@pytest.mark.parametrize("order", [(MONDAY, TUESDAY), (TUESDAY, MONDAY)], ids=["monday_first", "tuesday_first"])
def test_an_event_retried_across_midnight_is_loaded_once_the_later_days_copy_winning_in_either_load_order(logs_platform, order):
    warehouse = logs_platform[3]
    files = {MONDAY: _file(MONDAY, MONDAY_EVENTS), TUESDAY: _file(TUESDAY, TUESDAY_EVENTS)}
    for day in order:
        result = _land_and_load(logs_platform, [files[day]])
        assert _duplicate_check_of_the_run(result).passed  # blocking: nothing downstream is held

    assert _copies(warehouse, RETRIED) == [(TUESDAY, "2")]  # once, the newest landed copy
    assert _copies(warehouse, "e-monday") == [(MONDAY, "1")] and _copies(warehouse, "e-tuesday") == [(TUESDAY, "1")]
    spec = table("app_events")
    for day in (MONDAY, TUESDAY):
        assert evaluations.duplicate_primary_keys(warehouse, spec, day.isoformat()).passed
    assert evaluations.duplicate_primary_keys(warehouse, spec, None).passed  # the whole table


def _reconciled(defs, warehouse, day: date) -> dg.AssetCheckResult:
    """rows_staged_equal_rows_loaded for the day, against its newest staged batch, as a check run
    without a load would judge it later."""
    spec = table("app_events")
    batch = read_staged_batch(defs.resources["stage"], table_folder(spec), day.isoformat())
    return evaluations.rows_staged_equal_rows_loaded(warehouse, spec, day.isoformat(), batch)


def test_a_rerun_of_the_later_day_without_the_retried_event_gives_the_event_back_to_the_earlier_day(logs_platform):
    defs, _, _, warehouse = logs_platform
    _land_and_load(logs_platform, [_file(MONDAY, MONDAY_EVENTS)])
    _land_and_load(logs_platform, [_file(TUESDAY, TUESDAY_EVENTS)])
    assert _copies(warehouse, RETRIED) == [(TUESDAY, "2")]
    assert _reconciled(defs, warehouse, MONDAY).passed  # Monday: 1 row held + 1 held back = the 2 it loaded

    # Tuesday's file is corrected without the retry (a new version of the file): the day is
    # replaced, and the event is not lost: Monday's copy, held back until now, is the one left.
    result = _land_and_load(logs_platform, [_file(TUESDAY, TUESDAY_EVENTS[1:])])
    assert _duplicate_check_of_the_run(result).passed
    assert _copies(warehouse, RETRIED) == [(MONDAY, "1")]
    assert warehouse.query("SELECT count(*) FROM raw_data_held_back.app_events") == [(0,)]
    assert _reconciled(defs, warehouse, MONDAY).passed and _reconciled(defs, warehouse, TUESDAY).passed

    # Tuesday lands the retry again: it wins again, and Monday's copy is held back again.
    _land_and_load(logs_platform, [_file(TUESDAY, TUESDAY_EVENTS, name="late.jsonl")])
    assert _copies(warehouse, RETRIED) == [(TUESDAY, "2")]
    assert evaluations.duplicate_primary_keys(warehouse, table("app_events"), None).passed


def test_a_rerun_of_the_earlier_day_keeps_its_copy_of_the_retried_event_out_of_raw_data(logs_platform):
    defs, _, _, warehouse = logs_platform
    _land_and_load(logs_platform, [_file(TUESDAY, TUESDAY_EVENTS)])
    _land_and_load(logs_platform, [_file(MONDAY, MONDAY_EVENTS)])
    # A late file for Monday re-loads Monday with all its files: its copy of the retry still loses.
    result = _land_and_load(logs_platform, [_file(MONDAY, [_event("e-late", "2026-11-03T12:00:00+09:00", 1)], "late.jsonl")])
    assert _duplicate_check_of_the_run(result).passed
    assert _copies(warehouse, RETRIED) == [(TUESDAY, "2")] and _copies(warehouse, "e-late") == [(MONDAY, "1")]
    assert warehouse.query("SELECT event_id, _partition_date FROM raw_data_held_back.app_events") == [(RETRIED, MONDAY)]
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == check_names.ROWS_STAGED_EQUAL_ROWS_LOADED]
    assert check.passed and check.metadata["rows_held_back_for_a_later_day"].value == 1
    assert _reconciled(defs, warehouse, TUESDAY).passed


# The property, on the loader itself (no Dagster run per load, so many orders fit in a test): a
# landed daily table whose keys repeat across the days of its window, each day landed in up to two
# versions (a corrected file), loaded in any order, re-loads included, through either load path.
WINDOWED = TableSpec(
    schema="raw_data", name="retried_events", description="Events whose sends are retried across midnight.",
    columns=(Column("event_id", "varchar(8)", nullable=False), Column("copy", "varchar(32)"), Column("line", "int")),
    primary_key=("event_id",), partitioned=True, rows_from=RowsFrom.LANDING, mode=LoadMode.REPLACE,
    dedupe_order=("line",), key_window_days=2,
)
FIRST_DAY = date(2026, 11, 3)
KEYS = ("k0", "k1", "k2", "k3")


def _day_rows(day: date, version: int, keys: list[str]) -> list[list[str]]:
    """A landed day's rows; a key listed twice is a genuine duplicate within the day (line 1 wins)."""
    return [[key, f"{day}#{version}#{line}", str(line)] for line, key in enumerate(keys, start=1)]


@st.composite
def _landings(draw):
    window = draw(st.sampled_from([1, 2]))
    days = [FIRST_DAY + timedelta(days=i) for i in range(window + 1)]  # every pair of days within the window
    versions = {
        (day, v): draw(st.lists(st.sampled_from(KEYS), max_size=5)) for day in days for v in range(2)
    }
    loads = draw(st.lists(st.tuples(st.sampled_from(days), st.integers(0, 1)), min_size=2, max_size=6))
    return window, versions, loads


def _expected(loaded: dict[date, list[list[str]]]) -> tuple[dict[str, str], set[tuple[str, date]]]:
    """(key -> the winning copy, the (key, day) copies held back), from the days' current
    versions alone, whatever order they were loaded in: each day's first line of a key is the
    day's copy; the copy in the latest day wins (every day here is within the window of the others)."""
    copies: dict[str, dict[date, str]] = {}
    for day, rows in loaded.items():
        for key, copy, _ in rows:
            copies.setdefault(key, {}).setdefault(day, copy)
    winners = {key: by_day[max(by_day)] for key, by_day in copies.items()}
    held_back = {(key, day) for key, by_day in copies.items() for day in by_day if day != max(by_day)}
    return winners, held_back


@pytest.fixture
def windowed_loads(platform_env, monkeypatch, request):
    # The statements Redshift runs (a staging table in one transaction), here on Postgres.
    monkeypatch.setenv("PLATFORM_DAY_LOAD_PATH", "staging" if request.param == "staging_table" else "swap")
    warehouse = environment.build_warehouse().process_config_and_initialize()
    warehouse.ensure_schemas()
    return warehouse, environment.build_stage()


@pytest.mark.parametrize("windowed_loads", ["partition_swap", "staging_table"], indirect=True)
@settings(
    max_examples=20, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(landings=_landings())
def test_in_any_load_order_each_repeated_key_is_held_once_by_its_latest_days_copy(windowed_loads, landings):
    warehouse, stage = windowed_loads
    window, versions, loads = landings
    spec = replace(WINDOWED, key_window_days=window)
    with warehouse.connection() as conn, conn.cursor() as cur:  # each example starts from nothing
        cur.execute("DROP TABLE IF EXISTS raw_data.retried_events CASCADE")
        cur.execute("DROP TABLE IF EXISTS raw_data_held_back.retried_events")
        cur.execute("DELETE FROM raw_data._load_ledger WHERE table_name = 'raw_data.retried_events'")
        conn.commit()
    loaded: dict[date, list[list[str]]] = {}
    batches = {}
    for n, (day, version) in enumerate(loads):
        rows = _day_rows(day, version, versions[(day, version)])
        batch = hand_written_batch(stage, spec, day.isoformat(), f"load-{n}.csv.gz", rows)
        load_staged_batch(warehouse, stage, spec, batch, f"run-{n}", allow_shrink=True)
        loaded[day], batches[day] = rows, batch

        winners, held_back = _expected(loaded)
        held = warehouse.query("SELECT event_id, copy FROM raw_data.retried_events")
        assert sorted(held) == sorted(winners.items())  # each key exactly once, by its winning copy
        assert set(warehouse.query("SELECT event_id, _partition_date FROM raw_data_held_back.retried_events")) == held_back
        assert evaluations.duplicate_primary_keys(warehouse, spec, None).passed
        for d, last in batches.items():  # every day reconciles: rows held + held back = what its batch kept
            assert evaluations.rows_staged_equal_rows_loaded(warehouse, spec, d.isoformat(), last).passed
