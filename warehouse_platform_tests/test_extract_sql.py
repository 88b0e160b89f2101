"""The extract SELECT (Postgres, the source) and the warehouse-side SQL of incremental loads,
schema evolution and source parity (both dialects), pinned as text; the Redshift text is also
parsed with sqlglot's Redshift dialect."""

import re
from dataclasses import replace

import pytest
import sqlglot

from warehouse_platform.catalog import table
from warehouse_platform.contract import source_contract
from warehouse_platform.contract.table_spec import Column, OnNewColumn
from warehouse_platform.sql import ddl as ddl_builder
from warehouse_platform.sql import extract as extract_sql
from warehouse_platform.sql import parity as parity_sql

SESSION_TRANSACTION = table("session_transaction")
USER_SESSION_CHANNEL = table("user_session_channel")
USERS = table("users")


def _redshift(sql: str):
    bound = sql.replace("%(partition_date)s", "'2026-11-01'").replace("%(cursor_from)s", "'2026-11-01'")
    return sqlglot.parse_one(bound, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)


def test_a_table_source_selects_each_declared_column_by_name_as_text_empty_text_kept_within_the_cursor_day():
    assert extract_sql.extract_sql(SESSION_TRANSACTION) == (
        'SELECT CAST(src."sessionid" AS varchar) AS "sessionid", CAST(src."refunded" AS varchar) AS "refunded", '
        'CAST(src."amount" AS varchar) AS "amount", '
        'CAST(src."updated_at" AS varchar) AS "updated_at" FROM "app"."transactions" src '
        'WHERE src."updated_at" >= %(day_start)s AND src."updated_at" < %(day_end)s ORDER BY src."sessionid" COLLATE "C"'
    )


def test_a_day_whose_keys_move_also_reads_the_current_rows_of_the_keys_the_warehouse_holds_for_it():
    sql = extract_sql.extract_sql(SESSION_TRANSACTION, held_keys=True)
    window = 'src."updated_at" >= %(day_start)s AND src."updated_at" < %(day_end)s'
    # Two disjoint branches: the day's rows, and held keys that now live outside the day.
    assert sql.count(window) == 2 and f"AND NOT ({window})" in sql and " UNION ALL " in sql
    assert '("src"."sessionid") IN (SELECT * FROM unnest(%(held_0)s::varchar(32)[]))' in sql
    assert sql.endswith('ORDER BY src."sessionid" COLLATE "C"')
    bound = sql.replace("%(day_start)s", "'2026-11-01'").replace("%(day_end)s", "'2026-11-02'").replace(
        "%(held_0)s::varchar(32)[]", "ARRAY['a']"
    )
    sqlglot.parse_one(bound, read="postgres", error_level=sqlglot.ErrorLevel.RAISE)
    # Only days of tables whose keys move ask for them.
    assert not USER_SESSION_CHANNEL.moves_between_days and SESSION_TRANSACTION.moves_between_days


def test_a_query_source_is_a_subquery_and_its_day_column_need_not_be_loaded():
    assert extract_sql.extract_sql(USER_SESSION_CHANNEL) == (
        'SELECT CAST(src."userid" AS varchar) AS "userid", CAST(src."sessionid" AS varchar) AS "sessionid", '
        'CAST(src."channel" AS varchar) AS "channel" '
        "FROM (SELECT userid, sessionid, channel, ts FROM app.sessions) src "
        'WHERE src."ts" >= %(day_start)s AND src."ts" < %(day_end)s ORDER BY src."sessionid" COLLATE "C"'
    )


def test_a_whole_table_incremental_extract_reads_rows_changed_since_the_cursor_or_everything():
    since = extract_sql.extract_sql(USERS, since_cursor=True)
    # In key order: an unchanged source gives the same bytes, whatever its physical order.
    assert since.endswith('FROM "app"."users" src WHERE src."updated_at" >= %(cursor_from)s ORDER BY src."userid"')
    assert "WHERE" not in extract_sql.extract_sql(USERS)
    assert parity_sql.newest_loaded_cursor_sql(USERS) == 'SELECT MAX("updated_at") FROM "raw_data"."users"'
    _redshift(parity_sql.newest_loaded_cursor_sql(USERS))


def test_columns_returned_in_another_order_are_refused_naming_both():
    problem = extract_sql.cursor_columns_problem(USER_SESSION_CHANNEL, ["userid", "channel", "sessionid"])
    assert "'sessionid' (got 'channel')" in problem and "'channel' (got 'sessionid')" in problem
    assert extract_sql.cursor_columns_problem(USER_SESSION_CHANNEL, ["userid", "sessionid", "channel"]) is None
    assert "contract declares" in extract_sql.cursor_columns_problem(USER_SESSION_CHANNEL, ["userid", "sessionid"])


@pytest.mark.parametrize("spec", [SESSION_TRANSACTION, USERS, USER_SESSION_CHANNEL], ids=lambda s: s.name)
def test_parity_hashes_every_declared_column_of_every_row_on_each_side_from_the_same_text(spec):
    source, postgres, redshift = (parity_sql.totals_sql(spec, side) for side in ("source", "postgres", "redshift"))
    for column in spec.column_names:  # every declared column takes part
        assert f'r."{column}"' in source and f'r."{column}"' in redshift
    # The same row text on the warehouse side in both dialects; only the hash arithmetic differs.
    assert "STRTOL(SUBSTRING(MD5(" in redshift and "::bit(60)::bigint" in postgres
    assert redshift.replace("STRTOL(", "").count("MD5(") == postgres.count("MD5(")
    # The source is compared as the extract stages it: empty text is empty text, not NULL.
    assert "NULLIF" not in source and "NULLIF" not in redshift
    for side in ("redshift",):
        for sql in (parity_sql.totals_sql(spec, side), parity_sql.buckets_sql(spec, side), parity_sql.rows_in_buckets_sql(spec, side, 2)):
            bound = re.sub(r"%\((\w+)\)s", r"'\1'", sql)
            sqlglot.parse_one(bound, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    for sql in (source, postgres, parity_sql.buckets_sql(spec, "source"), parity_sql.rows_in_buckets_sql(spec, "source", 1)):
        bound = re.sub(r"%\((\w+)\)s", r"'\1'", sql)
        sqlglot.parse_one(bound, read="postgres", error_level=sqlglot.ErrorLevel.RAISE)
    assert ("_partition_date" in postgres) == spec.partitioned and ("%(day_start)s" in source) == spec.partitioned


def test_parity_names_missing_deleted_changed_and_unbumped_keys_from_the_buckets_that_differ():
    from warehouse_platform.rules import parity

    assert parity.differing_buckets({"0a": (2, 10), "ff": (1, 3)}, {"0a": (2, 10), "ff": (1, 4), "10": (1, 1)}) == ["10", "ff"]
    diff = parity.compare_rows(
        {("a",): ("h1", "2026-11-01 10:00:00"), ("b",): ("h2", "2026-11-01 11:00:00"), ("c",): ("h3", "2026-11-02 09:00:00")},
        {("a",): ("h1", "2026-11-01 10:00:00"), ("b",): ("hX", "2026-11-01 11:00:00"), ("c",): ("hY", "2026-11-01 09:00:00"),
         ("d",): ("h4", None)},
    )
    assert (diff.missing, diff.extra, diff.changed, diff.unbumped) == ([], [("d",)], [("b",), ("c",)], [("b",)])


def test_an_added_column_is_nullable_in_both_dialects_with_redshifts_encoding():
    column = Column("currency", "varchar(12)", encoding="zstd")
    assert ddl_builder.add_column_sql(SESSION_TRANSACTION, column, "postgres") == (
        'ALTER TABLE "raw_data"."session_transaction" ADD COLUMN "currency" varchar(12)'
    )
    redshift = ddl_builder.add_column_sql(SESSION_TRANSACTION, column, "redshift")
    assert redshift == 'ALTER TABLE "raw_data"."session_transaction" ADD COLUMN "currency" varchar(12) ENCODE zstd'
    _redshift(redshift)
    with pytest.raises(ValueError, match="json.*declare super"):
        ddl_builder.add_column_sql(SESSION_TRANSACTION, Column("doc", "json"), "redshift")


def test_the_added_columns_are_kept_in_a_warehouse_table_read_and_written_by_parameters_in_both_dialects():
    assert ddl_builder.create_added_columns_sql("raw_data") == (
        'CREATE TABLE IF NOT EXISTS "raw_data"."_added_columns" (\n'
        "    table_name varchar(256) NOT NULL,\n    column_name varchar(128) NOT NULL,\n    sql_type varchar(128) NOT NULL,\n"
        "    added_at timestamp NOT NULL,\n    run_id varchar(64) NOT NULL\n)"
    )
    assert ddl_builder.added_columns_sql("raw_data") == (
        'SELECT column_name, sql_type FROM "raw_data"."_added_columns" WHERE table_name = %(table)s ORDER BY added_at, column_name'
    )
    assert ddl_builder.record_added_column_sql("raw_data") == (
        'INSERT INTO "raw_data"."_added_columns" (table_name, column_name, sql_type, added_at, run_id) '
        "VALUES (%(table)s, %(column)s, %(sql_type)s, %(added_at)s, %(run_id)s)"
    )
    assert ddl_builder.forget_added_column_sql("raw_data") == (
        'DELETE FROM "raw_data"."_added_columns" WHERE table_name = %(table)s AND column_name = %(column)s'
    )
    # One statement each: the same text runs on Redshift (parsed here) and on Postgres (load tests).
    for sql in (ddl_builder.create_added_columns_sql("raw_data"), ddl_builder.added_columns_sql("raw_data"),
                ddl_builder.record_added_column_sql("raw_data"), ddl_builder.forget_added_column_sql("raw_data")):
        assert not isinstance(_redshift(re.sub(r"%\((\w+)\)s", r"'\1'", sql)), sqlglot.exp.Command), sql


def test_the_added_columns_in_the_contract_are_those_recorded_still_in_the_table_and_not_declared_with_their_added_type():
    recorded = [("currency", "varchar(12)"), ("gone", "int"), ("amount", "bigint"), ("currency", "varchar(48)")]
    present = ["sessionid", "refunded", "amount", "updated_at", "_partition_date", "_load_id", "currency", "manual"]
    kept = source_contract.kept_added_columns(SESSION_TRANSACTION, recorded, present)
    # amount is declared (the declaration rules); gone was dropped from the table (ended on purpose);
    # manual was never added by the platform; currency was re-added, its newest record wins.
    assert [(c.name, c.sql_type, c.nullable) for c in kept] == [("currency", "varchar(48)", True)]
    # The type comes back from the warehouse as text bound for DDL: only a type of the declared
    # grammar passes (contract/column_types.py; its DDL is written from the parsed parts).
    for bad in ("int; DROP TABLE x", "varchar(12) DEFAULT 'x'", "json", ""):
        with pytest.raises(ValueError, match="not a type the platform adds a column with"):
            source_contract.kept_added_columns(SESSION_TRANSACTION, [("c", bad)], ["c"])
    assert source_contract.added_column("n", "numeric(38, 10)").sql_type == "numeric(38, 10)"


def test_an_added_column_the_source_lost_fails_like_a_declared_one_saying_how_to_end_it():
    S = source_contract.SourceColumn
    contract = SESSION_TRANSACTION.with_added_columns((source_contract.added_column("currency", "varchar(12)"),))
    source = [S("sessionid", "varchar(128)"), S("refunded", "boolean"), S("amount", "int"), S("updated_at", "timestamp")]
    with pytest.raises(ValueError) as failure:
        source_contract.resolve(contract, source_contract.compare(contract, source), added_before=["currency"])
    message = str(failure.value)
    assert message.startswith("column 'currency', added to the table by on_new_column: add")
    assert "missing from app.transactions" in message and "ALTER TABLE raw_data.session_transaction DROP COLUMN currency" in message
    assert "declared columns" not in message


def test_schema_drift_names_new_missing_and_retyped_columns():
    S = source_contract.SourceColumn
    source = [S("sessionid", "varchar(128)"), S("refunded", "boolean"), S("amount", "varchar(40)"), S("currency", "varchar(12)")]
    drift = source_contract.compare(SESSION_TRANSACTION, source)
    assert [c.name for c in drift.new] == ["currency"]
    assert drift.missing == ("updated_at",) and drift.retyped == (("amount", "int", "varchar(40)"),)
    with pytest.raises(ValueError) as failure:
        source_contract.resolve(SESSION_TRANSACTION, drift)
    message = str(failure.value)
    assert "['updated_at'] are missing" in message and "'amount' is declared int" in message and "'currency'" in message
    # A wider varchar or a bigger integer is the same kind of type: the width check judges values.
    fine = [S("sessionid", "varchar(128)"), S("refunded", "boolean"), S("amount", "bigint"), S("updated_at", "timestamp")]
    assert source_contract.resolve(SESSION_TRANSACTION, source_contract.compare(SESSION_TRANSACTION, fine)) == ()
    # on_new_column: add takes a new column (only that: missing and retyped still fail).
    adding = replace(SESSION_TRANSACTION, on_new_column=OnNewColumn.ADD)
    [added] = source_contract.resolve(adding, source_contract.compare(adding, [*fine, S("currency", "varchar(12)")]))
    assert (added.name, added.sql_type, added.nullable) == ("currency", "varchar(12)", True)
    assert adding.with_added_columns((added,)).column_names[-1] == "currency"


def test_postgres_varchar_characters_become_redshift_bytes():
    from warehouse_platform.contract.column_types import SourceType

    assert source_contract.warehouse_type(SourceType("character varying", char_length=3)) == "varchar(12)"
    assert source_contract.warehouse_type(SourceType("text")) == "varchar(65535)"
    assert source_contract.warehouse_type(SourceType("integer")) == "int"
    assert source_contract.warehouse_type(SourceType("timestamp without time zone")) == "timestamp"


def test_a_composite_key_orders_the_extract_by_every_key_column_text_by_its_bytes():
    composite = replace(SESSION_TRANSACTION, primary_key=("sessionid", "updated_at"))
    assert extract_sql.key_order_sql(composite) == 'src."sessionid" COLLATE "C", src."updated_at"'
    assert extract_sql.extract_sql(composite).endswith('ORDER BY src."sessionid" COLLATE "C", src."updated_at"')
