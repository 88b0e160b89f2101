"""The whole lineage on a fresh embedded warehouse, checked against totals computed straight
from the generator's output (not from the warehouse)."""

from datetime import date

import dagster as dg
import pandas as pd
import pytest

from warehouse_platform.conventions import check_names
from warehouse_platform.sample_data.log_generator import generate_logs
from warehouse_platform.sample_data.session_generator import (
    CHANNELS,
    GeneratorConfig,
    generate_day,
    transactions_as_of,
    users_as_of,
)
from warehouse_platform_tests.platform_runs import (
    job_check_keys,
    land_in_folder,
    landing_fed_tables,
    landing_requests,
    materialization_metadata,
    platform_definitions,
    run_job,
    run_request,
    seed,
)

# Two days across a month boundary, so monthly aggregates have two groups.
DAYS = [date(2026, 10, 31), date(2026, 11, 1)]
CONFIG = GeneratorConfig(scale=0.1)
# The application's logs of the same sessions, every file landed (the late one included).
LOGS = generate_logs(DAYS, CONFIG)


def _expected_sessions() -> tuple[pd.DataFrame, pd.DataFrame]:
    sessions, txns = [], []
    for day in DAYS:
        d = generate_day(day, CONFIG)
        sessions.append(pd.DataFrame({"sessionid": d.sessionid, "userid": d.userid, "channel": d.channel, "ts": d.ts}))
        # As the source holds them once the last day is over: refunds that arrived by then.
        rows = transactions_as_of(d, DAYS[-1])
        txns.append(pd.DataFrame({
            "sessionid": [t.sessionid for t in rows], "amount": [t.amount for t in rows], "refunded": [t.refunded for t in rows],
        }))
    return pd.concat(sessions, ignore_index=True), pd.concat(txns, ignore_index=True)


def _query(endpoint, sql: str) -> pd.DataFrame:
    conn = endpoint.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    finally:
        conn.close()


def _load_everything(env):
    seed(env["source"], DAYS[0], len(DAYS), CONFIG)
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        daily = {day: run_job(defs, "extract_and_load_day", instance, day.isoformat()) for day in DAYS}
        land_in_folder(env["stage_root"], LOGS.files)
        logs = [run_request(defs, instance, request) for request in landing_requests(defs, instance)]
        assert len(logs) == len(landing_fed_tables()) * len(DAYS)  # one run per landing-fed table and day
        run_job(defs, "load_whole_tables", instance)
        analytics = run_job(defs, "build_analytics", instance)
        yield {"defs": defs, "instance": instance, "daily": daily, "analytics": analytics, **env}


@pytest.fixture(scope="module")
def loaded_platform(module_platform_env):
    yield from _load_everything(module_platform_env)


@pytest.fixture
def freshly_loaded_platform(platform_env):
    """For tests that change the data."""
    yield from _load_everything(platform_env)


def test_raw_tables_hold_each_day_exactly(loaded_platform):
    sessions, txns = _expected_sessions()
    wh = loaded_platform["warehouse"]
    per_day = _query(wh, "SELECT _partition_date AS day, count(*) AS n FROM raw_data.session_timestamp GROUP BY 1")
    expected = sessions.groupby(sessions.ts.dt.date).size()
    assert dict(zip(per_day.day, per_day.n)) == expected.to_dict()
    raw = _query(wh, "SELECT userid, sessionid, channel FROM raw_data.user_session_channel")
    assert sorted(raw.itertuples(index=False, name=None)) == sorted(
        sessions[["userid", "sessionid", "channel"]].itertuples(index=False, name=None)
    )
    txn = _query(wh, "SELECT sessionid, refunded, amount FROM raw_data.session_transaction")
    assert sorted(txn.itertuples(index=False, name=None)) == sorted(
        txns[["sessionid", "refunded", "amount"]].itertuples(index=False, name=None)
    )
    assert _query(wh, "SELECT count(*) AS n FROM raw_data.channel").n[0] == len(CHANNELS)
    meta = materialization_metadata(loaded_platform["daily"][DAYS[0]], ["raw_data", "session_timestamp"])
    assert meta["dagster/partition_row_count"] == expected[DAYS[0]]
    assert meta["rows_loaded"] == expected[DAYS[0]] and meta["already_loaded"] is False


def test_channel_summary_matches_revenue_computed_from_the_generator(loaded_platform):
    sessions, txns = _expected_sessions()
    df = sessions.merge(txns, on="sessionid", how="left")
    df["month"] = df.ts.dt.to_period("M").dt.start_time.dt.date
    df["paid"] = df.amount.fillna(0) > 0
    df["net"] = df.amount.where(~df.refunded.fillna(False).astype(bool), 0).fillna(0)
    expected = df.groupby(["channel", "month"]).agg(
        unique_users=("userid", "nunique"),
        paid_users=("userid", lambda u: u[df.loc[u.index, "paid"]].nunique()),
        gross_revenue=("amount", lambda a: int(a.fillna(0).sum())),
        net_revenue=("net", lambda a: int(a.sum())),
    )
    actual = _query(
        loaded_platform["warehouse"],
        "SELECT channel, month, unique_users, paid_users, conversion_rate, gross_revenue, net_revenue "
        "FROM analytics.channel_summary",
    ).set_index(["channel", "month"])
    months = {(d.year, d.month) for d in DAYS}
    assert len(actual) == len(expected) == len(CHANNELS) * len(months)  # every channel has sessions each month
    for key, row in expected.iterrows():
        got = actual.loc[key]
        assert (got.unique_users, got.paid_users, got.gross_revenue, got.net_revenue) == (
            row.unique_users, row.paid_users, row.gross_revenue, row.net_revenue,
        ), key
        assert float(got.conversion_rate) == pytest.approx(row.paid_users / row.unique_users, abs=5e-5)


def test_analytics_materializations_report_the_rows_their_tables_hold(loaded_platform):
    wh = loaded_platform["warehouse"]
    models = ["session_summary", "channel_summary", "mau", "user_channel_attribution", "daily_active_users", "http_status_daily"]
    for model in models:
        meta = materialization_metadata(loaded_platform["analytics"], ["analytics", model])
        assert meta["dagster/row_count"] == _query(wh, f"SELECT count(*) AS n FROM analytics.{model}").n[0] > 0


def test_mau_and_attribution_match_the_generator(loaded_platform):
    sessions, _ = _expected_sessions()
    wh = loaded_platform["warehouse"]
    sessions["month"] = sessions.ts.dt.to_period("M").dt.start_time.dt.date
    mau = _query(wh, "SELECT month, active_users FROM analytics.mau")
    assert dict(zip(mau.month, mau.active_users)) == sessions.groupby("month").userid.nunique().to_dict()

    # The generator opens some sessions in the same microsecond as the user's previous one; the
    # model breaks such ties by sessionid, and some ties decide a user's first or last channel.
    edge = (sessions.ts == sessions.groupby("userid").ts.transform("min")) | (
        sessions.ts == sessions.groupby("userid").ts.transform("max")
    )
    ties = sessions[edge & sessions.duplicated(["userid", "ts"], keep=False)]
    assert (ties.groupby(["userid", "ts"]).channel.nunique() > 1).any()
    ordered = sessions.sort_values(["userid", "ts", "sessionid"])
    first = ordered.groupby("userid").channel.first()
    last = ordered.groupby("userid").channel.last()
    attribution = _query(wh, "SELECT userid, first_channel, last_channel, sessions FROM analytics.user_channel_attribution")
    assert len(attribution) == sessions.userid.nunique()
    for row in attribution.itertuples():
        assert (row.first_channel, row.last_channel) == (first[row.userid], last[row.userid])
    assert attribution.sessions.sum() == len(sessions)
    summary = _query(wh, "SELECT count(*) AS n, count(distinct sessionid) AS d FROM analytics.session_summary")
    assert summary.n[0] == summary.d[0] == len(sessions)


def test_daily_active_users_and_http_status_daily_match_the_generators_truth(loaded_platform):
    wh = loaded_platform["warehouse"]
    truth = LOGS.truth
    dau = _query(wh, "SELECT day, country, active_users, events FROM analytics.daily_active_users")
    per_day = dau.groupby("day")[["active_users", "events"]].sum()  # a user has one country: the sum is distinct
    assert per_day.active_users.to_dict() == {day: len(users) for day, users in truth.active_users.items()}
    assert per_day.events.to_dict() == dict(truth.events_by_utc_day)
    # A user the application erased (its row removed) counts under 'unknown'; every other user
    # has its country from raw_data.users.
    known = {u.userid for u in users_as_of(DAYS[-1], CONFIG)}
    erased = {user for users in truth.active_users.values() for user in users if user not in known}
    unknown = dau[dau.country == "unknown"].groupby("day").active_users.sum().to_dict()
    assert unknown == {day: n for day, users in truth.active_users.items() if (n := len(set(users) - known))}
    assert erased, "the sample's erased users had sessions: the case is exercised"

    http = _query(wh, "SELECT day, status_class, requests, day_requests, day_error_rate FROM analytics.http_status_daily")
    expected = {}
    for (day, status), n in truth.requests_by_utc_day.items():
        expected[(day, f"{status // 100}xx")] = expected.get((day, f"{status // 100}xx"), 0) + n
    assert dict(zip(zip(http.day, http.status_class), http.requests)) == expected
    for day in {d for d, _ in expected}:
        requests = sum(n for (d, _), n in expected.items() if d == day)
        rate = expected.get((day, "5xx"), 0) / requests
        rows = http[http.day == day]
        assert set(rows.day_requests) == {requests}
        assert [float(r) for r in rows.day_error_rate] == pytest.approx([rate] * len(rows), abs=1e-6)


def test_dbt_tests_ran_as_passing_asset_checks(loaded_platform):
    evaluations = loaded_platform["analytics"].get_asset_check_evaluations()
    assert {(e.asset_key.to_user_string(), e.check_name) for e in evaluations} == job_check_keys(
        loaded_platform["defs"], "build_analytics"
    )
    # Every dbt test passed. inputs_fresh is judged against today's date, not the data: the
    # test's days are fixed, so it is no part of what a build of them must pass.
    built = [e for e in evaluations if e.check_name not in check_names.FRESHNESS_CHECKS]
    assert built and all(e.passed for e in built), [e.check_name for e in built if not e.passed]


def test_rerunning_a_day_changes_nothing_and_a_changed_day_replaces_its_rows(freshly_loaded_platform):
    loaded_platform = freshly_loaded_platform
    wh, defs, instance = loaded_platform["warehouse"], loaded_platform["defs"], loaded_platform["instance"]
    snapshot = "SELECT * FROM raw_data.session_timestamp ORDER BY sessionid"
    before = _query(wh, snapshot)
    rerun = run_job(defs, "extract_and_load_day", instance, DAYS[0].isoformat())
    assert materialization_metadata(rerun, ["raw_data", "session_timestamp"])["already_loaded"] is True
    pd.testing.assert_frame_equal(before, _query(wh, snapshot))

    # The application's data for that day changes (more sessions): the files' checksums change
    # and the partition is replaced, not appended to.
    bigger = GeneratorConfig(scale=0.15)
    seed(loaded_platform["source"], DAYS[0], 1, bigger)
    run_job(defs, "extract_and_load_day", instance, DAYS[0].isoformat())
    counts = _query(wh, "SELECT _partition_date AS day, count(*) AS n FROM raw_data.session_timestamp GROUP BY 1")
    assert dict(zip(counts.day, counts.n)) == {
        DAYS[0]: len(generate_day(DAYS[0], bigger).sessionid),
        DAYS[1]: len(generate_day(DAYS[1], CONFIG).sessionid),
    }
    old_rows, new_rows = len(generate_day(DAYS[0], CONFIG).sessionid), len(generate_day(DAYS[0], bigger).sessionid)
    ledger = _query(
        wh, "SELECT active, sum(row_count)::int AS n FROM raw_data._load_ledger "
        "WHERE table_name = 'raw_data.session_timestamp' AND partition_key = '2026-10-31' GROUP BY active",
    )
    # The replaced files stay in the ledger as history, inactive.
    assert dict(zip(ledger.active, ledger.n)) == {True: new_rows, False: old_rows}


def test_analytics_tables_are_exported_to_the_stage_as_csv_with_a_manifest(loaded_platform):
    import csv
    import gzip
    import json

    stage_root = loaded_platform["stage_root"]
    manifest = json.loads((stage_root / "exports/channel_summary/manifest.json").read_text())
    [entry] = manifest["entries"]
    with gzip.open(stage_root / "exports/channel_summary/part-00000.csv.gz", "rt", newline="") as f:
        rows = list(csv.reader(f))
    table = _query(loaded_platform["warehouse"], "SELECT * FROM analytics.channel_summary")
    assert rows[0] == list(table.columns) == manifest["batch"]["columns"]
    assert len(rows) - 1 == len(table) == entry["meta"]["record_count"]
    meta = materialization_metadata(loaded_platform["analytics"], ["stage", "exports", "channel_summary"])
    assert meta["dagster/row_count"] == len(table)
