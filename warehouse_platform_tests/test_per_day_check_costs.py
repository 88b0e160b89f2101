"""What a day's checks cost, and that the cheaper way still proves the same (issue 22): source
parity reads the source and the warehouse at once, each on its own connection, and still fails
on a source row that changed after its extract. Real embedded Postgres, a real day's run."""

from __future__ import annotations

import threading
import time
from datetime import date

import dagster as dg
import pytest

from warehouse_platform import environment
from warehouse_platform.catalog import table
from warehouse_platform.extract import source_comparison
from warehouse_platform.quality import evaluations
from warehouse_platform.sample_data.session_generator import GeneratorConfig
from warehouse_platform_tests.platform_runs import platform_definitions, run_job, seed

DAY = date(2026, 11, 2)
SESSION_TIMESTAMP = table("session_timestamp")


def test_both_sides_are_read_at_once_so_a_comparison_waits_for_the_slower_side():
    # Each side waits for the other to have started: only reads made at once get past the barrier.
    both_started = threading.Barrier(2, timeout=10)

    def side(name: str):
        return lambda: (both_started.wait(), name)[1]

    assert source_comparison.on_both_sides(side("source"), side("warehouse")) == ("source", "warehouse")


def test_a_failing_side_is_the_error_the_comparison_raises():
    def broken():
        raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError, match="the source went away"):
        source_comparison.on_both_sides(broken, lambda: [])


@pytest.fixture(scope="module")
def one_day(postgres_server, tmp_path_factory):
    """A loaded day of session_timestamp (each test restores what it changes)."""
    from warehouse_platform_tests.conftest import configure_platform

    with pytest.MonkeyPatch.context() as monkeypatch:
        env = configure_platform(postgres_server, tmp_path_factory.mktemp("one_day"), monkeypatch)
        seed(env["source"], DAY, 1, GeneratorConfig(scale=0.05))
        with dg.instance_for_test() as instance:
            run_job(platform_definitions(), "extract_and_load_day", instance, DAY.isoformat())
        yield (
            env,
            environment.build_warehouse().process_config_and_initialize(),
            environment.build_source_database().process_config_and_initialize(),
        )


def _queries_waiting_on_a_lock(endpoint, like: str) -> int:
    """Other sessions' queries whose text is LIKE `like`, waiting on a lock."""
    [(waiting,)] = endpoint.query(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE %(like)s "
        "AND pid <> pg_backend_pid()", {"like": like},
    )
    return waiting


def test_source_parity_reads_the_source_and_raw_data_at_once(one_day):
    env, warehouse, source_db = one_day
    # Both tables locked: each side's read waits at its lock. Read one after the other, only
    # the source's would ever be waiting; read at once, both are.
    source_lock, raw_lock = env["source"].connect(), env["warehouse"].connect()
    found: list = []
    try:
        source_lock.cursor().execute("LOCK TABLE app.sessions IN ACCESS EXCLUSIVE MODE")
        raw_lock.cursor().execute("LOCK TABLE raw_data.session_timestamp IN ACCESS EXCLUSIVE MODE")
        check = threading.Thread(
            target=lambda: found.append(evaluations.source_parity(warehouse, source_db, SESSION_TIMESTAMP, DAY.isoformat())))
        check.start()
        waiting, deadline = 0, time.monotonic() + 20
        while waiting < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            waiting = _queries_waiting_on_a_lock(env["warehouse"], "%SUM(%MD5(%")
    finally:
        source_lock.rollback(), raw_lock.rollback()
        source_lock.close(), raw_lock.close()
    check.join(timeout=60)
    assert waiting == 2, "the source's and raw_data's parity reads were not both under way at once"
    assert found and found[0].passed, found


def test_parity_still_fails_on_a_source_row_changed_after_its_extract(one_day):
    env, warehouse, source_db = one_day
    [(key, channel_ts)] = env["source"].query(
        "SELECT sessionid, ts FROM app.sessions WHERE ts::date = %(d)s ORDER BY sessionid LIMIT 1", {"d": DAY})
    conn = env["source"].connect()
    try:
        # One microsecond later, the same day: only a hash of every column can see it.
        with conn.cursor() as cur:
            cur.execute("UPDATE app.sessions SET ts = ts + interval '1 microsecond' WHERE sessionid = %s", (key,))
        conn.commit()
        result = evaluations.source_parity(warehouse, source_db, SESSION_TIMESTAMP, DAY.isoformat())
    finally:
        with conn.cursor() as cur:
            cur.execute("UPDATE app.sessions SET ts = %s WHERE sessionid = %s", (channel_ts, key))
        conn.commit()
        conn.close()
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["keys_with_other_values"].value == 1
    assert result.metadata["sample_of_differing_keys"].value["other_values"] == [[key]]
    assert evaluations.source_parity(warehouse, source_db, SESSION_TIMESTAMP, DAY.isoformat()).passed


def test_the_row_text_tells_apart_rows_that_a_plain_join_would_confuse(one_day):
    env, _, _ = one_day
    from warehouse_platform.sql.row_hash import row_text_sql

    spec = table("user_session_channel")  # userid int, sessionid varchar, channel varchar
    rows = [
        (1, "a|b", "c"), (1, "a", "b|c"),  # a separator inside a text moves between columns
        (1, "3:a", "b"), (1, "3", ":a|b"),  # a length prefix inside a text
        (1, None, "x"), (1, "N", "x"), (1, "", "x"),  # NULL, the NULL marker as text, empty text
        (None, "N", "x"), (2, "N", "x"),  # a fixed-format NULL is never a value
    ]
    rendered = [
        env["source"].query(
            f"SELECT {row_text_sql(spec, 'r', side)} FROM (VALUES (%s::int, %s::varchar, %s::varchar)) "
            "AS r(userid, sessionid, channel)", row)[0][0]
        for row in rows for side in ("source", "postgres")
    ]
    by_side = rendered[0::2], rendered[1::2]
    assert by_side[0] == by_side[1], "the source and the warehouse render a row alike"
    assert len(set(by_side[0])) == len(rows), by_side[0]


def test_a_loaded_day_leaves_statistics_so_the_duplicate_check_plans_for_every_key_distinct(one_day):
    # Autovacuum never analyzes a partitioned table's parent: without the load's ANALYZE the
    # planner assumes 200 distinct keys for the check's GROUP BY over every day, and hashes
    # a real day's keys in spilled batches, then sorts them again.
    from warehouse_platform.sql import partition_swap as swap

    env, _, _ = one_day
    [key] = SESSION_TIMESTAMP.primary_key
    stats = dict(env["warehouse"].query(
        "SELECT inherited, n_distinct FROM pg_stats WHERE schemaname = 'raw_data' AND tablename = 'session_timestamp' "
        "AND attname = %(key)s", {"key": key}))
    assert stats.get(True) == -1, f"the parent's statistics of {key}: {stats} (-1: every value distinct)"
    partition = swap.partition_table_name(SESSION_TIMESTAMP, DAY)
    [(day_rows,)] = env["warehouse"].query(
        "SELECT reltuples FROM pg_class WHERE oid = %(t)s::regclass",
        {"t": f"{swap.partitions_schema(SESSION_TIMESTAMP)}.{partition}"})
    [(loaded,)] = env["warehouse"].query("SELECT count(*) FROM raw_data.session_timestamp WHERE _partition_date = %(d)s", {"d": DAY})
    assert day_rows == loaded > 0, "the day's partition knows its rows"


def test_the_checks_of_each_load_read_the_day_at_once_and_each_records_its_own_result(one_day):
    # raw_data's table locked: every check's read of it waits at the lock. As steps one after the
    # other, one read at a time would ever be waiting; in the one op, those of every check are.
    from warehouse_platform.conventions import check_names
    from warehouse_platform.conventions.asset_keys import raw_asset_key

    env, _, _ = one_day
    defs = platform_definitions()
    asset = raw_asset_key(SESSION_TIMESTAMP)
    names = (check_names.DUPLICATE_PRIMARY_KEYS, check_names.ROWS_STAGED_EQUAL_ROWS_LOADED,
             check_names.ROW_VOLUME, check_names.SOURCE_PARITY)
    found: list = []
    lock = env["warehouse"].connect()
    with dg.instance_for_test() as instance:
        try:
            lock.cursor().execute("LOCK TABLE raw_data.session_timestamp IN ACCESS EXCLUSIVE MODE")
            job = defs.resolve_implicit_global_asset_job_def().get_subset(
                asset_selection=set(), asset_check_selection={dg.AssetCheckKey(asset, n) for n in names})
            run = threading.Thread(target=lambda: found.append(
                job.execute_in_process(instance=instance, partition_key=DAY.isoformat(), raise_on_error=False)))
            run.start()
            most, deadline = 0, time.monotonic() + 30
            while most < len(names) and time.monotonic() < deadline:
                time.sleep(0.1)
                most = max(most, _queries_waiting_on_a_lock(env["warehouse"], "%raw_data%session_timestamp%"))
        finally:
            lock.rollback()
            lock.close()
        run.join(timeout=120)
    assert most >= len(names), f"at most {most} of the {len(names)} checks' reads were waiting at once"
    [result] = found
    by_name = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(by_name) == set(names) and all(e.passed and e.partition == DAY.isoformat() for e in by_name.values())


def test_a_check_that_cannot_run_fails_the_op_after_the_others_record_their_results(one_day, monkeypatch):
    from warehouse_platform.conventions import check_names
    from warehouse_platform.conventions.asset_keys import raw_asset_key

    # Nothing listens on port 1: source parity cannot read the source.
    monkeypatch.setenv("PLATFORM_SOURCE_DSN", "host=127.0.0.1 port=1 dbname=app user=nobody connect_timeout=5")
    defs = platform_definitions()
    asset = raw_asset_key(SESSION_TIMESTAMP)
    names = (check_names.DUPLICATE_PRIMARY_KEYS, check_names.ROW_VOLUME, check_names.SOURCE_PARITY)
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(), asset_check_selection={dg.AssetCheckKey(asset, n) for n in names})
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, partition_key=DAY.isoformat(), raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "127.0.0.1" in failure.step_failure_data.error.to_string()
    recorded = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert recorded == {check_names.DUPLICATE_PRIMARY_KEYS: True, check_names.ROW_VOLUME: True}


def test_the_hash_sum_of_a_day_on_postgres_is_exact_beyond_a_bigints_range(one_day):
    # Postgres sums the 60-bit row hashes as bigints into a numeric: 16 rows whose hash is the
    # largest 60-bit number already pass 2^63, where a bigint sum would overflow.
    from warehouse_platform.sql.row_hash import hash_number_sql

    env, _, _ = one_day
    all_f = "'" + "f" * 32 + "'"
    [(total,)] = env["warehouse"].query(f"SELECT SUM({hash_number_sql(all_f, 'postgres')}) FROM generate_series(1, 16)")
    assert total == 16 * (2**60 - 1) > 2**63


def test_a_json_document_renders_once_as_its_digest_alike_on_both_sides_and_tells_rows_apart(one_day, tmp_path):
    from dataclasses import replace

    from warehouse_platform.benchmarks import wide_table
    from warehouse_platform.catalog import load_catalog
    from warehouse_platform.sql.row_hash import row_text_sql

    env, _, _ = one_day
    (wide,) = load_catalog(wide_table.write_catalog(tmp_path))
    # The key, distribution and sort columns the entry declares, and its JSON document.
    spec = replace(wide, columns=tuple(wide.column(c) for c in ("order_id", "customer_id", "created_at", "attributes")))
    documents = [None, "null", '"N"', '{"a": "x|y"}', '{"a": "x", "b": "y"}', '{"b": "y", "a": "x"}', '{"a": "x|"}']
    rendered = {
        side: [env["source"].query(
            f"SELECT {row_text_sql(spec, 'r', side)} FROM (VALUES (1::bigint, 2, '2026-11-02 10:00'::timestamp, %s::jsonb)) "
            "AS r(order_id, customer_id, created_at, attributes)",
            (document,))[0][0] for document in documents]
        for side in ("source", "postgres")
    }
    assert rendered["source"] == rendered["postgres"]
    # The same document is one rendering whatever its keys' order (jsonb's own text); every other differs.
    assert rendered["source"][4] == rendered["source"][5]
    assert len(set(rendered["source"])) == len(documents) - 1
    assert all(r.count("|") == 3 for r in rendered["source"]), rendered["source"]  # a digest holds no separator
    assert 'MD5(CAST(to_jsonb(r."attributes") AS varchar))' in row_text_sql(spec, "r", "source")
    assert 'MD5(JSON_SERIALIZE(r."attributes"))' in row_text_sql(spec, "r", "redshift")


def test_a_numbers_text_without_its_scales_zeros_is_the_same_by_trim_scale_and_by_redshifts_expressions(one_day):
    # Postgres renders numerics with TRIM_SCALE, Redshift with two regular expressions on the
    # text; Postgres runs both, so the two renderings are compared on the same values here.
    from warehouse_platform.contract.table_spec import Column
    from warehouse_platform.sql.row_hash import _render

    env, _, _ = one_day
    amount = (Column("amount", "numeric(18,6)"),)
    values = ["0", "0.000000", "-1.500000", "100", "100.000000", "1.100000", "123456789.123456", "-0.500000", "NaN", "10.010000"]
    for value in values:
        [(postgres, redshift)] = env["source"].query(
            f"SELECT {_render(amount, 'r', 'postgres')}, {_render(amount, 'r', 'redshift')} "
            "FROM (VALUES (%s::numeric(18,6))) AS r(amount)", (value,))
        assert postgres == redshift, value
    assert "TRIM_SCALE" in _render(amount, "r", "source") and "TRIM_SCALE" not in _render(amount, "r", "redshift")
