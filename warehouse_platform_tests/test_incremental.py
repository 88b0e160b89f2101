"""Incremental tables, late changes, schema evolution and source parity on the real embedded
Postgres (source and warehouse) with real Dagster runs. Expected figures come from the
generator's truth "as of" a day, never from the warehouse."""

import re
from dataclasses import replace
from datetime import date, datetime, timedelta

import dagster as dg
import pytest

from warehouse_platform import environment
from warehouse_platform.catalog import load_catalog, table
from warehouse_platform.contract.table_spec import (
    Column,
    LoadMode,
    OnNewColumn,
    RowsFrom,
    SourceSpec,
    TableSpec,
)
from warehouse_platform.conventions.asset_keys import raw_asset_key, stage_asset_key
from warehouse_platform.quality import evaluations
from warehouse_platform.sample_data.session_generator import (
    GeneratorConfig,
    days_between,
    end_of,
    generate_day,
    transactions_as_of,
    users_as_of,
)
from warehouse_platform.sql import extract as extract_sql
from warehouse_platform.stage.batch_writer import write_staged_batch
from warehouse_platform.stage.storage import LocalFolderStage
from warehouse_platform.staged_files.load_error import LoadError
from warehouse_platform.staged_files.row_batches import CsvRecords
from warehouse_platform.warehouse.loader import load_staged_batch
from warehouse_platform_tests.platform_runs import (
    platform_definitions,
    reread_days_that_differ,
    run_job,
    seed,
)
from warehouse_platform_tests.staged_batches import platform_batch

SESSION_TRANSACTION = table("session_transaction")
USER_SESSION_CHANNEL = table("user_session_channel")
USERS = table("users")

CONFIG = GeneratorConfig(scale=0.2)
FIRST, LAST, LATER = date(2026, 11, 1), date(2026, 11, 3), date(2026, 11, 8)


def _execute(endpoint, *statements):
    conn = endpoint.connect()
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        conn.commit()
    finally:
        conn.close()


def test_the_generator_knows_the_source_as_of_any_day():
    data = generate_day(FIRST, CONFIG)
    refunds = [(t, r) for t, r in zip(data.txn_ts, data.txn_refund_at) if r is not None]
    assert refunds and all(timedelta(days=1) <= r - t <= timedelta(days=5) for t, r in refunds)
    early, late = transactions_as_of(data, FIRST), transactions_as_of(data, FIRST + timedelta(days=5))
    assert not any(t.refunded for t in early) and sum(t.refunded for t in late) == len(refunds)
    assert all(t.updated_at.date() > FIRST for t in late if t.refunded)
    assert transactions_as_of(generate_day(FIRST, CONFIG), LATER) == transactions_as_of(data, LATER)  # deterministic
    before, after = users_as_of(LAST, CONFIG), users_as_of(date(2026, 12, 31), CONFIG)
    assert len(after) < len(before) <= CONFIG.user_count, "a few users are erased (their rows removed)"
    erased = {u.userid for u in before} - {u.userid for u in after}
    changed = [(b, a) for b, a in zip([u for u in before if u.userid not in erased], after) if b != a]
    assert any(b.country != a.country for b, a in changed) and any(a.deleted_at for _, a in changed)
    assert all(a.updated_at > b.updated_at for b, a in changed)


def test_a_query_returning_declared_columns_swapped_fails_before_anything_is_staged(platform_env):
    seed(platform_env["source"], FIRST, 1, GeneratorConfig(scale=0.01))
    source_db = environment.build_source_database().process_config_and_initialize()
    # Both varchar(32): by type alone nothing would notice the swap.
    swapped = "SELECT userid::text, channel, sessionid FROM app.sessions"
    records = CsvRecords(
        USER_SESSION_CHANNEL.column_names, lambda sink: source_db.copy_csv(swapped, None, sink),
        key_columns=USER_SESSION_CHANNEL.primary_key,
        check_header=lambda names: extract_sql.cursor_columns_problem(USER_SESSION_CHANNEL, names),
    )
    stage = environment.build_stage()
    with pytest.raises(ValueError, match=r"'sessionid' \(got 'channel'\).*'channel' \(got 'sessionid'\)"):
        write_staged_batch(stage, "raw_data/user_session_channel/batch=x", "raw_data.user_session_channel", None, records, slice_count=2)
    assert stage.list_objects("raw_data/") == []


EVOLVING = TableSpec(
    schema="raw_data", name="evolving", description="A table whose source changes shape.",
    columns=(Column("id", "int", nullable=False), Column("name", "varchar(16)")),
    primary_key=("id",), source=SourceSpec(table="app.evolving"), mode=LoadMode.REPLACE,
)


def _load_evolving(spec, instance):
    defs = platform_definitions([spec])
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[stage_asset_key(spec), raw_asset_key(spec)], raise_on_error=False,
    )


def _failure(result) -> str:
    return " ".join(str(e.step_failure_data.error) for e in result.get_step_failure_events())


@pytest.mark.parametrize(
    "source_ddl, expected",
    [
        ("id int, name varchar(16), email varchar(40)", r"does not declare: \['email'\]"),
        ("id int", r"declared columns \['name'\] are missing from app.evolving"),
        ("id int, name int", r"column 'name' is declared varchar\(16\) but app.evolving now has int"),
    ],
    ids=["new_column", "missing_column", "retyped_column"],
)
def test_a_source_that_changed_shape_fails_naming_the_column(platform_env, source_ddl, expected):
    _execute(platform_env["source"], "CREATE SCHEMA IF NOT EXISTS app", f"CREATE TABLE app.evolving ({source_ddl})")
    with dg.instance_for_test() as instance:
        result = _load_evolving(EVOLVING, instance)
    assert not result.success
    assert re.search(expected, _failure(result)), _failure(result)
    # Said once: the table, the problem, and that nothing was staged or loaded.
    assert _failure(result).count("raw_data.evolving") == 1 and _failure(result).count("Nothing was staged") == 1


def test_on_new_column_add_adds_the_column_to_the_raw_table_and_loads_it(platform_env):
    source = platform_env["source"]
    _execute(source, "CREATE SCHEMA IF NOT EXISTS app", "CREATE TABLE app.evolving (id int, name varchar(16))",
             "INSERT INTO app.evolving VALUES (1, 'a'), (2, 'b')")
    spec = replace(EVOLVING, on_new_column=OnNewColumn.ADD)
    with dg.instance_for_test() as instance:
        assert _load_evolving(spec, instance).success
        _execute(source, "ALTER TABLE app.evolving ADD COLUMN email varchar(40)", "UPDATE app.evolving SET email = 'x@example.com'",
                 "INSERT INTO app.evolving VALUES (3, 'c', '한국@example.com')")
        result = _load_evolving(spec, instance)
    assert result.success, _failure(result)
    wh = platform_env["warehouse"]
    assert wh.query("SELECT id, name, email FROM raw_data.evolving ORDER BY id") == [
        (1, "a", "x@example.com"), (2, "b", "x@example.com"), (3, "c", "한국@example.com"),
    ]
    # Characters in Postgres, bytes in the warehouse (Redshift counts bytes): 40 -> 160.
    assert wh.query("SELECT character_maximum_length FROM information_schema.columns "
                     "WHERE table_schema = 'raw_data' AND table_name = 'evolving' AND column_name = 'email'") == [(160,)]


def test_a_day_that_lost_rows_to_a_later_day_reloads_but_a_replaced_day_still_refuses_to_shrink(platform_env, tmp_path):
    """Upsert: a purchase refunded later moves to the refund's day (that day's load takes it out
    of its old day), so re-reading the old day offers fewer rows and is right to. Replace never
    moves rows between days: the same re-read there is the broken extract the guard is for."""
    warehouse = environment.build_warehouse().process_config_and_initialize()
    stage = LocalFolderStage(root=str(tmp_path / "stage"))
    keys = [c * 32 for c in "abcd"]
    day1 = [(k, "false", "100", "2026-11-01 10:00:00") for k in keys]
    day2 = [(k, "true", "100", "2026-11-02 09:00:00") for k in keys[:3]]  # three refunds the next day
    for spec in (SESSION_TRANSACTION, replace(SESSION_TRANSACTION, name="replaced_transaction", mode=LoadMode.REPLACE, incremental=None)):
        load_staged_batch(warehouse, stage, spec, platform_batch(stage, spec, "2026-11-01", day1), "r1")
        load_staged_batch(warehouse, stage, spec, platform_batch(stage, spec, "2026-11-02", day2), "r2")
        reread = platform_batch(stage, spec, "2026-11-01", day1[3:])
        if spec.mode == LoadMode.UPSERT:
            assert load_staged_batch(warehouse, stage, spec, reread, "r3").partition_rows == 1
            assert warehouse.query(f"SELECT sessionid, refunded, _partition_date::text FROM {spec.qualified_name} ORDER BY 1") == [
                (keys[0], True, "2026-11-02"), (keys[1], True, "2026-11-02"), (keys[2], True, "2026-11-02"),
                (keys[3], False, "2026-11-01"),
            ]
        else:
            with pytest.raises(LoadError, match="refused to replace raw_data.replaced_transaction day 2026-11-01"):
                load_staged_batch(warehouse, stage, spec, reread, "r3")


@pytest.fixture(scope="module")
def late_refunds(module_platform_env):
    """First pass: 3 days, the source as of the last. Second pass: the source 5 days later (new
    days, and refunds of the first days' purchases in them), its days loaded."""
    env = module_platform_env
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        seed_days = lambda last: seed(env["source"], FIRST, (last - FIRST).days + 1, CONFIG)
        seed_days(LAST)
        runs = [run_job(defs, "extract_and_load_day", instance, d.isoformat()) for d in days_between(FIRST, LAST)]
        runs.append(run_job(defs, "load_whole_tables", instance))
        runs.append(run_job(defs, "build_analytics", instance))
        seed_days(LATER)
        runs += [run_job(defs, "extract_and_load_day", instance, d.isoformat()) for d in days_between(LAST + timedelta(days=1), LATER)]
        # Purchases the application purged after their day's lookback: the sensor finds the days.
        rereads = reread_days_that_differ(defs, instance)
        runs += rereads
        runs.append(run_job(defs, "load_whole_tables", instance))
        runs.append(run_job(defs, "build_analytics", instance))
        yield {**env, "runs": runs, "rereads": rereads}


def _truth() -> list:
    return [t for d in days_between(FIRST, LATER) for t in transactions_as_of(generate_day(d, CONFIG), LATER)]


def test_late_refunds_update_raw_data_in_place_in_the_day_of_the_refund(late_refunds):
    truth = _truth()
    late = [t for t in truth if t.refunded and t.updated_at >= datetime(2026, 11, 4) and t.sessionid in {
        s for d in days_between(FIRST, LAST) for s in generate_day(d, CONFIG).txn_sessionid}]
    assert late  # refunds of the first pass's purchases arrived in the second pass
    raw = late_refunds["warehouse"].query("SELECT sessionid, amount, refunded, updated_at, _partition_date FROM raw_data.session_transaction")
    assert sorted(raw) == sorted((t.sessionid, t.amount, t.refunded, t.updated_at, t.updated_at.date()) for t in truth)


def test_purchases_the_application_purged_after_their_lookback_leave_raw_data(late_refunds):
    purged = {
        sid for d in days_between(FIRST, LAST) for sid, at in zip(*(lambda g: (g.txn_sessionid, g.txn_deleted_at))(generate_day(d, CONFIG)))
        if at is not None and at < end_of(LATER)
    }
    assert purged, "the generator purges some of the first pass's purchases by the second"
    held = {sid for (sid,) in late_refunds["warehouse"].query("SELECT sessionid FROM raw_data.session_transaction")}
    assert not purged & held
    reread = {r.dagster_run.tags.get("dagster/partition") for r in late_refunds["rereads"]}
    assert reread and all(day <= LAST.isoformat() for day in reread), "only the first pass's days were re-read"


def test_analytics_net_revenue_equals_the_sources_truth_after_late_refunds(late_refunds):
    truth = _truth()
    [(gross, net)] = late_refunds["warehouse"].query("SELECT sum(gross_revenue), sum(net_revenue) FROM analytics.channel_summary")
    assert gross == sum(t.amount for t in truth)
    assert net == sum(t.amount for t in truth if not t.refunded) < gross


def test_users_are_upserted_incrementally_with_soft_deletes_carried(late_refunds):
    users = users_as_of(LATER, CONFIG)
    assert any(u.deleted_at for u in users) and any(u.updated_at > datetime(2026, 11, 3) for u in users)
    raw = late_refunds["warehouse"].query("SELECT userid, signup_at, country, updated_at, deleted_at FROM raw_data.users")
    assert sorted(raw) == sorted((u.userid, u.signup_at, u.country, u.updated_at, u.deleted_at) for u in users)


def test_source_parity_passes_for_every_loaded_day_and_fails_when_raw_data_is_tampered_with(late_refunds):
    parity = [e for r in late_refunds["runs"] for e in r.get_asset_check_evaluations() if e.check_name == "source_parity"]
    # Every table read from the source (not the landed logs), as the catalog declares them.
    assert {e.asset_key.path[-1] for e in parity} == {s.name for s in load_catalog() if s.rows_from == RowsFrom.EXTRACTION}
    assert all(e.passed for e in parity), [e.description for e in parity if not e.passed]
    warehouse = environment.build_warehouse().process_config_and_initialize()
    source_db = environment.build_source_database().process_config_and_initialize()
    day = "2026-11-05"
    assert evaluations.source_parity(warehouse, source_db, SESSION_TRANSACTION, day).passed
    _execute(late_refunds["warehouse"],
             f"UPDATE raw_data.session_transaction SET amount = amount + 1 WHERE sessionid = "
             f"(SELECT min(sessionid) FROM raw_data.session_transaction WHERE _partition_date = '{day}')",
             "DELETE FROM raw_data.users WHERE userid = 1")
    tampered = evaluations.source_parity(warehouse, source_db, SESSION_TRANSACTION, day)
    [(changed_key,)] = warehouse.query(
        f"SELECT min(sessionid) FROM raw_data.session_transaction WHERE _partition_date = '{day}'"
    )
    assert not tampered.passed and f"1 keys with other values (first: {changed_key})" in tampered.description
    sample = tampered.metadata["sample_of_differing_keys"].data
    assert sample["other_values"] == [[changed_key]] and sample["missing"] == sample["deleted_in_source"] == []
    users = evaluations.source_parity(warehouse, source_db, USERS, None)
    in_source = len(users_as_of(LATER, CONFIG))
    assert not users.passed and f"{in_source:,} rows in the source, {in_source - 1:,}" in users.description
    assert users.metadata["sample_of_differing_keys"].data["missing"] == [["1"]]
