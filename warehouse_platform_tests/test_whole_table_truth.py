"""A whole incremental table (read by its cursor, upserted by key) compared with the source on
every load, by buckets of key hashes: deletes reach raw_data under the declared policy, and
changes an incremental read cannot see (a cursor moved back, a change without a cursor change)
are repaired by the next load. Real embedded Postgres, the platform's extract, stage and load."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from warehouse_platform import environment
from warehouse_platform.contract.table_spec import Column, DeletePolicy, Incremental, LoadMode, SourceSpec, TableSpec
from warehouse_platform.extract.assets import extract_records
from warehouse_platform.quality import evaluations
from warehouse_platform.stage.batch_writer import write_staged_batch
from warehouse_platform.staged_files.manifest import batch_folder, batch_id_for, day_folder, table_folder
from warehouse_platform.warehouse.loader import load_staged_batch
from warehouse_platform_tests.key_truth_harness import execute

ACCOUNTS = TableSpec(
    schema="raw_data", name="accounts", description="Accounts, changed in place.",
    columns=(
        Column("id", "int", nullable=False),
        Column("country", "varchar(8)"),
        Column("updated_at", "timestamp", nullable=False),
        Column("gone_at", "timestamp"),
    ),
    primary_key=("id",), mode=LoadMode.UPSERT, dedupe_order=("updated_at desc",),
    source=SourceSpec(table="app.accounts"), incremental=Incremental(cursor="updated_at", lookback_days=1),
)
T0 = datetime(2026, 11, 10, 9)


class WholeTable:
    def __init__(self, platform_env, spec: TableSpec):
        self.spec, self.source = spec, platform_env["source"]
        self.warehouse = environment.build_warehouse().process_config_and_initialize()
        self.source_db = environment.build_source_database().process_config_and_initialize()
        self.stage = environment.build_stage()
        self.runs = itertools.count(1)
        self.sql("CREATE SCHEMA IF NOT EXISTS app",
                 "CREATE TABLE app.accounts (id int PRIMARY KEY, country varchar(8), updated_at timestamp NOT NULL, gone_at timestamp)")

    def sql(self, *statements, params=None):
        execute(self.source, *statements, params=params)

    def load(self):
        n = next(self.runs)
        batch_id = batch_id_for(datetime(2026, 12, 1, tzinfo=timezone.utc) + timedelta(seconds=n), f"run{n}")
        records = extract_records(self.spec, self.source_db, self.warehouse, partition_key=None, day_window=None)
        prefix = batch_folder(day_folder(table_folder(self.spec), None), batch_id)
        batch = write_staged_batch(self.stage, prefix, self.spec.qualified_name, None, records, slice_count=2, batch_id=batch_id)
        return batch, load_staged_batch(self.warehouse, self.stage, self.spec, batch, f"run{n}")

    def raw(self):
        return sorted(self.warehouse.query("SELECT id, country, updated_at, gone_at FROM raw_data.accounts"))

    def source_rows(self):
        return sorted(self.source.query("SELECT id, country, updated_at, gone_at FROM app.accounts"))


@pytest.fixture
def accounts(platform_env):
    return lambda deletes="hard": WholeTable(platform_env, replace(ACCOUNTS, deletes=DeletePolicy.parse(deletes)))


def _seed(table, n=40):
    table.sql("INSERT INTO app.accounts SELECT i, 'KR', %(t)s + i * interval '1 minute', NULL FROM generate_series(1, %(n)s) i",
              params={"t": T0, "n": n})


def test_a_key_the_source_deleted_leaves_a_whole_table_on_the_next_incremental_load(accounts):
    table = accounts("hard")
    _seed(table)
    table.load()
    table.sql("DELETE FROM app.accounts WHERE id IN (7, 31)")
    batch, report = table.load()
    assert batch.deleted_keys == (("31",), ("7",)) and report.keys_deleted == 2
    assert table.raw() == table.source_rows()
    assert evaluations.source_parity(table.warehouse, table.source_db, table.spec, None).passed


def test_soft_marks_a_deleted_key_with_when_the_read_saw_it_gone_and_keep_leaves_it(accounts):
    soft = accounts("soft(gone_at)")
    _seed(soft)
    soft.load()
    soft.sql("DELETE FROM app.accounts WHERE id = 5")
    batch, report = soft.load()
    [(gone_at,)] = soft.warehouse.query("SELECT gone_at FROM raw_data.accounts WHERE id = 5")
    assert report.keys_deleted == 1 and gone_at == batch.read_at
    assert len(soft.raw()) == 40
    soft.load()  # marked once: a later read keeps the first time it was seen gone
    assert soft.warehouse.query("SELECT gone_at FROM raw_data.accounts WHERE id = 5") == [(gone_at,)]
    parity = evaluations.source_parity(soft.warehouse, soft.source_db, soft.spec, None)
    assert parity.passed and "1 keys the source deleted stay in raw_data as declared (deletes: soft(gone_at))" in parity.description


def test_keep_leaves_a_deleted_key_as_it_was_last_read(platform_env):
    kept = WholeTable(platform_env, replace(ACCOUNTS, deletes=DeletePolicy.parse("keep")))
    _seed(kept)
    kept.load()
    before = kept.raw()
    kept.sql("DELETE FROM app.accounts WHERE id = 5")
    assert kept.load()[1].keys_deleted == 0
    assert kept.raw() == before


def test_an_incremental_read_takes_every_row_changed_within_the_lookback_of_the_newest_loaded_change(accounts):
    table = accounts("hard")
    _seed(table)  # ids 1..40, changed a minute apart: the newest loaded change is id 40's
    table.load()
    # Committed late: its change (T0 + 10.5 min) is older than the newest one loaded, inside the
    # one-day lookback.
    table.sql("INSERT INTO app.accounts VALUES (41, 'JP', %(t)s, NULL)", params={"t": T0 + timedelta(minutes=10, seconds=30)})
    batch, report = table.load()
    # Read by its cursor, with every row changed since the newest loaded change minus the
    # lookback (all 41), not only through the bucket of keys the comparison found different.
    assert report.rows_staged == 41, f"read {report.rows_staged} rows, not the 41 changed within the lookback"
    assert table.raw() == table.source_rows()


def test_changes_an_incremental_read_cannot_see_are_repaired_by_the_next_load(accounts):
    table = accounts("hard")
    _seed(table)
    table.load()
    # A change that does not move the cursor, and a cursor moved back before the lookback.
    table.sql("UPDATE app.accounts SET country = 'JP' WHERE id = 3",
              "UPDATE app.accounts SET country = 'US', updated_at = updated_at - interval '30 days' WHERE id = 9")
    assert not evaluations.source_parity(table.warehouse, table.source_db, table.spec, None).passed
    table.load()
    assert table.raw() == table.source_rows()
    assert evaluations.source_parity(table.warehouse, table.source_db, table.spec, None).passed


def test_a_soft_delete_column_must_be_a_declared_nullable_timestamp():
    with pytest.raises(ValueError, match=r"deletes: soft\(country\) names a nullable timestamp column"):
        replace(ACCOUNTS, deletes=DeletePolicy.parse("soft(country)"))
    with pytest.raises(ValueError, match="deletes is hard, keep or soft"):
        DeletePolicy.parse("soft()")
