"""Each load mode on the real embedded Postgres, exactly-once behaviour, dedupe order and
concurrency."""

import threading
from dataclasses import replace
from datetime import date

import dagster as dg
import pytest

from warehouse_platform import environment
from warehouse_platform.catalog import load_catalog, table
from warehouse_platform.contract.table_spec import Column, LoadMode, TableSpec
from warehouse_platform.quality import evaluations
from warehouse_platform.sample_data.session_generator import GeneratorConfig
from warehouse_platform.sql.load import staging_table_name
from warehouse_platform.sql.partition_swap import load_table_name
from warehouse_platform.stage.batch_writer import write_staged_batch
from warehouse_platform.stage.storage import LocalFolderStage
from warehouse_platform.staged_files.load_error import LoadError
from warehouse_platform.staged_files.row_batches import RowBatches
from warehouse_platform.warehouse.loader import load_staged_batch
from warehouse_platform_tests.platform_runs import platform_definitions, run_job, seed
from warehouse_platform_tests.staged_batches import hand_written_batch, platform_batch

SESSION_TIMESTAMP = table("session_timestamp")
USER_SESSION_CHANNEL = table("user_session_channel")

K = [c * 32 for c in "abcdefgh"]  # session ids


@pytest.fixture
def env(platform_env, tmp_path):
    warehouse = environment.build_warehouse().process_config_and_initialize()
    return warehouse, LocalFolderStage(root=str(tmp_path / "modes_stage"))


def _table(warehouse, spec, extra=""):
    cols = ", ".join(spec.column_names)
    return sorted(warehouse.query(f"SELECT {cols}{extra} FROM {spec.qualified_name}"))


def test_replace_swaps_exactly_one_day(env):
    warehouse, stage = env
    spec = USER_SESSION_CHANNEL
    load_staged_batch(warehouse, stage, spec, platform_batch(stage, spec, "2026-11-01", [("1", K[0], "Naver"), ("2", K[1], "Google")]), "r1")
    load_staged_batch(warehouse, stage, spec, platform_batch(stage, spec, "2026-11-02", [("3", K[2], "Naver")]), "r2")
    report = load_staged_batch(
        warehouse, stage, spec, platform_batch(stage, spec, "2026-11-01", [("9", K[3], "Youtube")]), "r3"
    )
    assert (report.rows_loaded, report.partition_rows, report.table_rows) == (1, 1, 2)
    assert _table(warehouse, spec, ", _partition_date::text") == [
        (3, K[2], "Naver", "2026-11-02"), (9, K[3], "Youtube", "2026-11-01"),
    ]


def test_rerunning_a_partition_twice_leaves_identical_tables(env):
    warehouse, stage = env
    spec = USER_SESSION_CHANNEL
    batch = platform_batch(stage, spec, "2026-11-01", [("1", K[0], "Naver"), ("2", K[1], "Google")])
    first = load_staged_batch(warehouse, stage, spec, batch, "r1")
    snapshot = _table(warehouse, spec, ", _load_id")
    second = load_staged_batch(warehouse, stage, spec, batch, "r2")
    assert (first.already_loaded, second.already_loaded) == (False, True)
    assert _table(warehouse, spec, ", _load_id") == snapshot
    assert warehouse.query("SELECT count(*) FROM raw_data._load_ledger WHERE active")[0][0] == len(batch.parts)


def test_upsert_moves_a_key_to_its_newest_day_and_replaces_the_day(env):
    warehouse, stage = env
    spec = replace(USER_SESSION_CHANNEL, mode=LoadMode.UPSERT)
    load_staged_batch(warehouse, stage, spec, platform_batch(stage, spec, "2026-11-01", [("1", K[0], "Naver"), ("2", K[1], "Google")]), "r1")
    load_staged_batch(warehouse, stage, spec, platform_batch(stage, spec, "2026-11-02", [("2", K[1], "Organic"), ("5", K[4], "Naver")]), "r2")
    assert _table(warehouse, spec, ", _partition_date::text") == [
        (1, K[0], "Naver", "2026-11-01"), (2, K[1], "Organic", "2026-11-02"), (5, K[4], "Naver", "2026-11-02"),
    ]


def test_in_batch_duplicates_keep_the_row_first_in_the_declared_order(env):
    warehouse, stage = env
    rows = [(K[0], "2026-11-01 08:00:00"), (K[0], "2026-11-01 21:30:00"), (K[1], "2026-11-01 09:00:00"), (K[0], "2026-11-01 10:00:00")]
    report = load_staged_batch(warehouse, stage, SESSION_TIMESTAMP, platform_batch(stage, SESSION_TIMESTAMP, "2026-11-01", rows), "r")
    assert (report.rows_staged, report.rows_loaded, report.duplicates_skipped) == (4, 2, 2)
    assert report.duplicate_keys_sample == ((K[0], 3),)
    got = warehouse.query("SELECT sessionid, ts::text FROM raw_data.session_timestamp ORDER BY 1")
    assert got == [(K[0], "2026-11-01 21:30:00"), (K[1], "2026-11-01 09:00:00")]  # latest ts wins


# Both load paths: the day swap (a replaced day) and the staging table (an appended day, which
# is the statement sequence Redshift always runs).
@pytest.mark.parametrize("mode", [LoadMode.REPLACE, LoadMode.APPEND], ids=["partition_swap", "staging_table"])
def test_a_null_dedupe_value_loses_to_a_real_one(env, mode):
    warehouse, stage = env
    spec = replace(SESSION_TIMESTAMP, mode=mode)
    rows = [(K[0], "2026-11-01 08:00:00"), (K[0], None), (K[1], None), (K[1], "2026-11-01 09:00:00")]
    report = load_staged_batch(warehouse, stage, spec, platform_batch(stage, spec, "2026-11-01", rows, slice_count=1), "r")
    assert (report.rows_staged, report.rows_loaded) == (4, 2)
    got = warehouse.query("SELECT sessionid, ts::text FROM raw_data.session_timestamp ORDER BY 1")
    assert got == [(K[0], "2026-11-01 08:00:00"), (K[1], "2026-11-01 09:00:00")]


# An unpartitioned table exercises the staging-table path (the one Redshift always uses).
EVENTS = TableSpec(
    schema="raw_data", name="test_events",
    columns=(Column("id", "varchar(32)", nullable=False), Column("n", "int", default="0")),
    primary_key=("id",), dedupe_order=("n desc",),
)


@pytest.mark.parametrize("mode", list(LoadMode))
def test_unpartitioned_modes(env, mode):
    warehouse, stage = env
    spec = replace(EVENTS, name=f"test_events_{mode.value}", mode=mode)
    load_staged_batch(warehouse, stage, spec, hand_written_batch(stage, spec, None, "1.csv.gz", [[K[0], "1"], [K[1], "1"]]), "r1")
    second = hand_written_batch(stage, spec, None, "2.csv.gz", [[K[1], "2"], [K[2], "2"], [K[2], "7"]])
    report = load_staged_batch(warehouse, stage, spec, second, "r2")
    expected = {
        LoadMode.APPEND: [(K[0], 1), (K[1], 1), (K[1], 2), (K[2], 7)],
        LoadMode.REPLACE: [(K[1], 2), (K[2], 7)],
        LoadMode.UPSERT: [(K[0], 1), (K[1], 2), (K[2], 7)],
    }[mode]
    assert _table(warehouse, spec) == expected
    assert report.duplicates_skipped == 1  # (K[2], 2) lost to (K[2], 7) by "n desc"
    assert load_staged_batch(warehouse, stage, spec, second, "r3").already_loaded


# Keys of any type and any number of columns, on both load paths (a regression: the swap's
# duplicate lookup compared an integer key with the text keys read back from the manifest).
ORDERS = TableSpec(
    schema="raw_data", name="test_orders",
    columns=(Column("order_id", "int", nullable=False), Column("amount", "int"), Column("ts", "timestamp")),
    primary_key=("order_id",), dedupe_order=("ts desc",),
)
ORDER_LINES = TableSpec(
    schema="raw_data", name="test_order_lines",
    columns=(Column("order_id", "int", nullable=False), Column("line", "varchar(8)", nullable=False), Column("qty", "int"),
             Column("ts", "timestamp")),
    primary_key=("order_id", "line"), dedupe_order=("ts desc",),
)


@pytest.mark.parametrize("partitioned", [True, False], ids=["partition_swap", "staging_table"])
@pytest.mark.parametrize("spec", [ORDERS, ORDER_LINES], ids=["integer key", "composite key"])
def test_integer_and_composite_keys_deduplicate_on_both_load_paths(env, spec, partitioned):
    warehouse, stage = env
    spec = replace(spec, name=f"{spec.name}_{'daily' if partitioned else 'whole'}", partitioned=partitioned)
    day = "2026-11-01" if partitioned else None
    early, late = "2026-11-01 08:00:00", "2026-11-01 09:00:00"
    if spec.primary_key == ("order_id",):
        rows = [("1", "10", early), ("1", "11", late), ("2", "20", early), ("3", "30", early), ("3", "31", late)]
        expected = [(1, 11, late), (2, 20, early), (3, 31, late)]
    else:
        rows = [("1", "a", "1", early), ("1", "a", "2", late), ("1", "b", "5", early), ("2", "a", "7", early), ("2", "a", "8", late)]
        expected = [(1, "a", 2, late), (1, "b", 5, early), (2, "a", 8, late)]
    # Staged as the stage asset stages: the manifest's key check lists the repeated keys, as text.
    batch = write_staged_batch(
        stage, f"raw_data/{spec.name}" + (f"/day={day}" if day else ""), spec.qualified_name, day,
        RowBatches(spec.column_names, [rows], spec.text_column_names, spec.primary_key), slice_count=2,
    )
    assert batch.duplicate_candidates
    report = load_staged_batch(warehouse, stage, spec, batch, "r")
    assert (report.rows_staged, report.rows_loaded) == (5, 3)
    got = warehouse.query(f"SELECT {', '.join(spec.column_names)} FROM {spec.qualified_name}")
    assert sorted((*r[:-1], r[-1].isoformat(sep=" ")) for r in got) == expected


@pytest.mark.parametrize("partitioned", [False, True], ids=["staging_table", "partition_swap"])
def test_a_column_the_file_leaves_out_is_loaded_with_its_default(env, partitioned):
    """A file written before `n` was added to the contract: the load fills `n` from its default
    (COPY leaves unlisted columns to the table's defaults, so the staging table must keep them)."""
    warehouse, stage = env
    spec = replace(EVENTS, name="test_daily_defaults" if partitioned else "test_events_defaults", partitioned=partitioned)
    day = "2026-11-01" if partitioned else None
    batch = hand_written_batch(stage, spec, day, "old_producer.csv.gz", [[K[0]], [K[1]]], header=["id"])
    load_staged_batch(warehouse, stage, spec, replace(batch, columns=("id",)), "r")
    assert _table(warehouse, spec) == [(K[0], 0), (K[1], 0)]
    # A column without a default cannot be left out: that is schema drift.
    no_default = replace(spec, columns=(EVENTS.columns[0], Column("n", "int")))
    with pytest.raises(LoadError, match="schema drift"):
        load_staged_batch(warehouse, stage, no_default, replace(batch, columns=("id",)), "r2")


@pytest.mark.parametrize("partitioned", [True, False], ids=["partition_swap", "staging_table"])
def test_a_load_that_would_empty_or_halve_a_loaded_day_fails_and_changes_nothing_unless_allowed(env, partitioned):
    warehouse, stage = env
    spec = replace(EVENTS, name="test_daily_shrink" if partitioned else "test_events_shrink", partitioned=partitioned)
    day = "2026-11-01" if partitioned else None

    def load(n: int, **kwargs):
        rows = [(f"{i:032x}", str(n)) for i in range(n)]
        return load_staged_batch(warehouse, stage, spec, platform_batch(stage, spec, day, rows, slice_count=1), f"r{n}", **kwargs)

    load(10)
    snapshot = _table(warehouse, spec, ", _load_id")
    where = "day 2026-11-01" if partitioned else "the table"
    for offered in (0, 4):  # an empty extract; one below half
        with pytest.raises(LoadError) as raised:
            load(offered)
        assert raised.value.table == spec.qualified_name
        assert f"refused to replace {spec.qualified_name} {where}: it holds 10 rows and this load offers {offered}" in str(raised.value)
        assert "allow_shrink: true" in str(raised.value)
        assert _table(warehouse, spec, ", _load_id") == snapshot
        assert warehouse.query("SELECT count(*) FROM raw_data._load_ledger WHERE active AND row_count = 10") == [(1,)]
    assert load(5).partition_rows == 5  # half is not a sharp drop
    report = load(0, allow_shrink=True)
    assert (report.rows_loaded, report.partition_rows) == (0, 0) and _table(warehouse, spec) == []
    assert load(0).partition_rows == 0  # nothing held, nothing to protect


@pytest.mark.parametrize("partitioned", [True, False], ids=["partition_swap", "staging_table"])
def test_the_shrink_guard_counts_a_batchs_rows_after_its_duplicate_keys_are_removed(env, partitioned):
    warehouse, stage = env
    spec = replace(EVENTS, name="test_daily_dup_shrink" if partitioned else "test_events_dup_shrink", partitioned=partitioned)
    day = "2026-11-01" if partitioned else None

    def load(rows, run_id):
        return load_staged_batch(warehouse, stage, spec, platform_batch(stage, spec, day, rows, slice_count=1), run_id)

    load([(f"{i:032x}", "1") for i in range(10)], "r1")
    snapshot = _table(warehouse, spec, ", _load_id")
    # Ten rows staged, but only two keys (five copies each): the day would keep 2 of its 10 rows.
    with pytest.raises(LoadError) as raised:
        load([(f"{i:032x}", str(n)) for i in range(2) for n in range(5)], "r2")
    assert "it holds 10 rows and this load offers 2 (2 rows, less than half)" in str(raised.value)
    assert _table(warehouse, spec, ", _load_id") == snapshot


def test_an_empty_re_extract_fails_the_days_run_and_keeps_its_rows_unless_the_run_config_allows_it(platform_env):
    import dagster as dg

    from warehouse_platform.sample_data.session_generator import GeneratorConfig
    from warehouse_platform_tests.platform_runs import (
        materialization_metadata,
        platform_definitions,
        run_job,
        seed,
    )

    day, tables = "2026-11-02", ("user_session_channel", "session_timestamp", "session_transaction")
    seed(platform_env["source"], date.fromisoformat(day), 1, GeneratorConfig(scale=0.1))
    defs = platform_definitions()
    warehouse = environment.build_warehouse().process_config_and_initialize()

    def counts():
        return {t: warehouse.query(f"SELECT count(*) FROM raw_data.{t}")[0][0] for t in tables}

    with dg.instance_for_test() as instance:
        run_job(defs, "extract_and_load_day", instance, day)
        loaded = counts()
        # The source loses the day (deleted, a broken query, a replica behind).
        conn = platform_env["source"].connect()
        with conn, conn.cursor() as cur:
            cur.execute("DELETE FROM app.transactions")
            cur.execute("DELETE FROM app.sessions")
        conn.close()
        job = defs.resolve_job_def("extract_and_load_day")
        refused = job.execute_in_process(instance=instance, partition_key=day, raise_on_error=False)
        assert not refused.success and counts() == loaded and min(loaded.values()) > 0
        [failure] = [e for e in refused.all_events if e.is_step_failure and "session_timestamp" in e.step_key]
        assert (
            f"raw_data.session_timestamp day {day}: it holds {loaded['session_timestamp']:,} rows and this load offers 0"
            in failure.step_failure_data.error.to_string()
        )
        allowed = job.execute_in_process(
            instance=instance, partition_key=day,
            run_config={"ops": {f"raw_data__{t}": {"config": {"allow_shrink": True}} for t in tables}},
        )
        assert counts() == dict.fromkeys(tables, 0)
        assert materialization_metadata(allowed, ["raw_data", "session_timestamp"])["allow_shrink"] is True


def test_concurrent_loads_of_one_partition_leave_each_row_once(env):
    warehouse, stage = env
    spec = USER_SESSION_CHANNEL
    rows = [(str(i), f"{i:032x}", "Naver") for i in range(5000)]
    batch = platform_batch(stage, spec, "2026-11-01", rows, slice_count=4)
    # The barrier times out (BrokenBarrierError, collected) if a thread never arrives.
    errors, start = [], threading.Barrier(3, timeout=60)

    def load(run):
        try:
            start.wait()
            load_staged_batch(warehouse, stage, spec, batch, run)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=load, args=(f"run-{i}",), name=f"concurrent load run-{i}") for i in range(3)]
    try:
        for t in threads:
            t.start()
    finally:
        for t in threads:
            if t.ident is not None:
                t.join(timeout=300)
    assert not [t.name for t in threads if t.is_alive()] and errors == []
    assert warehouse.query("SELECT count(*), count(DISTINCT sessionid) FROM raw_data.user_session_channel") == [(5000, 5000)]
    assert warehouse.query("SELECT count(*) FROM raw_data._load_ledger WHERE active")[0][0] == len(batch.parts)


def test_a_file_changed_after_staging_is_refused(env):
    warehouse, stage = env
    spec = USER_SESSION_CHANNEL
    batch = platform_batch(stage, spec, "2026-11-01", [("1", K[0], "Naver"), ("2", K[1], "Google")], slice_count=1)
    path = stage._path(stage.key_for(batch.parts[0].url))
    import gzip

    path.write_bytes(gzip.compress(b"userid,sessionid,channel\n1," + K[0].encode() + b",Google\n", mtime=0))
    with pytest.raises(LoadError, match="changed after it was staged"):
        load_staged_batch(warehouse, stage, spec, batch, "r")
    assert warehouse.query("SELECT count(*) FROM raw_data.user_session_channel") == [(0,)]
    # The half-built day table was dropped, not left behind.
    assert warehouse.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'raw_data_partitions'") == [(0,)]


@pytest.mark.parametrize("partitioned", [True, False], ids=["partition_swap", "staging_table"])
def test_the_reported_copy_is_the_statement_that_ran(env, partitioned):
    warehouse, stage = env
    spec = replace(ORDERS, name=f"test_orders_copy_{'daily' if partitioned else 'whole'}", partitioned=partitioned)
    day = "2026-11-01" if partitioned else None
    batch = platform_batch(stage, spec, day, [("1", "10", "2026-11-01 08:00:00")])
    report = load_staged_batch(warehouse, stage, spec, batch, "r")
    # The swap COPYs into the day's new table, the staging path into its temporary table.
    target = f'"raw_data_partitions"."{load_table_name(spec, report.load_id)}"' if partitioned else f'"{staging_table_name(spec)}"'
    assert report.copy_statement.startswith(f"COPY {target} (")
    assert load_staged_batch(warehouse, stage, spec, batch, "r2").copy_statement.startswith("-- nothing ran")


CUT = replace(
    EVENTS, name="test_cut", truncate_columns=True,
    columns=(Column("id", "varchar(32)", nullable=False), Column("note", "varchar(32)")), dedupe_order=(),
)


@pytest.mark.parametrize("partitioned", [True, False], ids=["partition_swap", "staging_table"])
def test_truncate_columns_cuts_values_to_their_column_in_bytes_at_a_character_boundary(env, partitioned):
    # What Redshift's TRUNCATECOLUMNS does: 32 bytes hold "a" and ten 3-byte characters (31
    # bytes, the eleventh would make 34), or "ab" and ten (exactly 32).
    warehouse, stage = env
    spec = replace(CUT, name=f"test_cut_{'daily' if partitioned else 'whole'}", partitioned=partitioned)
    day = "2026-11-01" if partitioned else None
    rows = [(K[0], "a" + "한" * 20), (K[1], "ab" + "한" * 20), (K[2], "fits")]
    batch = platform_batch(stage, spec, day, rows)
    assert evaluations.redshift_type_limits(spec, batch).passed  # the check applies the same rule
    load_staged_batch(warehouse, stage, spec, batch, "r")
    got = dict(warehouse.query(f"SELECT id, note FROM {spec.qualified_name}"))
    assert got == {K[0]: "a" + "한" * 10, K[1]: "ab" + "한" * 10, K[2]: "fits"}
    # Without truncate_columns the same file is refused, by the check and by the loader alike.
    strict = replace(spec, name=spec.name + "_strict", truncate_columns=False)
    assert not evaluations.redshift_type_limits(strict, batch).passed
    with pytest.raises(LoadError, match="does not fit varchar"):
        load_staged_batch(warehouse, stage, strict, batch, "r2")


def test_truncate_columns_applies_in_a_dagster_run(platform_env):
    seed(platform_env["source"], date(2026, 11, 1), 1, GeneratorConfig(scale=0.05))
    long_name = "네이버" * 8  # 72 bytes for a varchar(32) channel
    conn = platform_env["source"].connect()
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO app.channels (channelname) VALUES (%s)", (long_name,))
        cur.execute("UPDATE app.sessions SET channel = %s WHERE sessionid = (SELECT min(sessionid) FROM app.sessions)", (long_name,))
    conn.close()
    tables = [replace(s, truncate_columns=True) if s.name == USER_SESSION_CHANNEL.name else s for s in load_catalog()]
    with dg.instance_for_test() as instance:
        result = run_job(platform_definitions(tables), "extract_and_load_day", instance, "2026-11-01")
    [check] = [c for c in result.get_asset_check_evaluations()
               if c.check_name == "redshift_type_limits" and c.asset_key.path[-1] == USER_SESSION_CHANNEL.name]
    assert check.passed and "cuts these to their column" in check.description
    warehouse = environment.build_warehouse().process_config_and_initialize()
    assert warehouse.query("SELECT channel FROM raw_data.user_session_channel WHERE octet_length(channel) > 12") == [("네이버" * 3 + "네",)]
