"""The Redshift SQL cannot run here, so it is pinned as text and parsed with sqlglot's Redshift
dialect; the Postgres SQL from the same builders runs for real in the load tests."""

import re
from dataclasses import replace

import pytest
import sqlglot
from sqlglot import exp

from warehouse_platform.catalog import load_catalog, table
from warehouse_platform.contract.table_spec import Column, DeletePolicy, DistStyle, LoadMode, TableSpec
from warehouse_platform.sql import ddl as ddl_builder
from warehouse_platform.sql import key_window as key_window_sql
from warehouse_platform.sql import load as load_sql_builder
from warehouse_platform.sql.quoting import quote_ident, quote_literal

RAW_TABLES = load_catalog()
CHANNEL = table("channel")
SESSION_TIMESTAMP = table("session_timestamp")


def _parse_redshift(sql: str) -> exp.Expression:
    bound = re.sub(r"%\((\w+)\)s", r"'\1'", sql)
    return sqlglot.parse_one(bound, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)


def test_redshift_ddl_for_a_key_distributed_table():
    assert ddl_builder.create_table_sql(SESSION_TIMESTAMP, "redshift") == (
        'CREATE TABLE IF NOT EXISTS "raw_data"."session_timestamp" (\n'
        '    "sessionid" varchar(32) NOT NULL ENCODE zstd,\n'
        '    "ts" timestamp ENCODE az64,\n'
        '    "_partition_date" date NOT NULL,\n'
        '    "_load_id" bigint NOT NULL\n'
        ")\n"
        'DISTSTYLE KEY DISTKEY("sessionid") SORTKEY("ts")'
    )


def test_postgres_ddl_is_the_same_table_without_redshift_clauses():
    sql = ddl_builder.create_table_sql(SESSION_TIMESTAMP, "postgres")
    assert "DIST" not in sql and "SORTKEY" not in sql and "ENCODE" not in sql
    assert '"sessionid" varchar(32) NOT NULL' in sql
    assert "PRIMARY KEY" not in sql and "UNIQUE" not in sql  # as on Redshift, keys are not enforced
    # Locally a day is a partition, which is what lets a day be replaced by swapping tables.
    assert sql.endswith('PARTITION BY LIST ("_partition_date")')
    assert "PARTITION BY" not in ddl_builder.create_table_sql(CHANNEL, "postgres")


def test_redshift_copy_reads_the_manifest_with_an_iam_role():
    sql = load_sql_builder.copy_from_s3_manifest_sql(
        SESSION_TIMESTAMP, "s3://stage/raw_data/session_timestamp/day=2026-11-01/manifest.json",
        "arn:aws:iam::123456789012:role/redshift-copy", "ap-northeast-2",
    )
    assert sql == (
        'COPY "stg_session_timestamp" ("sessionid", "ts")\n'
        "FROM 's3://stage/raw_data/session_timestamp/day=2026-11-01/manifest.json'\n"
        "IAM_ROLE 'arn:aws:iam::123456789012:role/redshift-copy'\n"
        "MANIFEST\nGZIP\nCSV\nIGNOREHEADER 1\nNULL AS ''\nTIMEFORMAT 'auto'\nDATEFORMAT 'auto'\n"
        "COMPUPDATE OFF\nSTATUPDATE OFF\nREGION 'ap-northeast-2'"
    )
    assert isinstance(_parse_redshift(sql), exp.Copy)
    assert "ACCESS_KEY" not in sql.upper() and "SECRET" not in sql.upper()


@pytest.mark.parametrize("spec", RAW_TABLES, ids=lambda s: s.name)
def test_every_statement_of_a_load_parses_as_redshift(spec):
    statements = [
        ddl_builder.create_schema_sql(spec.schema),
        ddl_builder.create_table_sql(spec, "redshift"),
        ddl_builder.create_ledger_sql(spec.schema),
        # the platform-kept contract of added columns (on_new_column: add), read and written by ensure_table
        ddl_builder.create_added_columns_sql(spec.schema),
        ddl_builder.added_columns_sql(spec.schema),
        ddl_builder.forget_added_column_sql(spec.schema),
        ddl_builder.record_added_column_sql(spec.schema),
        ddl_builder.table_columns_sql(),
        load_sql_builder.create_staging_sql(spec, "redshift"),
        load_sql_builder.copy_from_s3_manifest_sql(spec, "s3://b/m.json", "arn:aws:iam::1:role/r"),
        load_sql_builder.count_null_keys_sql(spec),
        load_sql_builder.delete_replaced_rows_sql(spec),
        load_sql_builder.insert_from_staging_sql(spec),
        load_sql_builder.ledger_deactivate_sql(spec.schema),
        load_sql_builder.ledger_insert_sql(spec.schema),
        load_sql_builder.drop_staging_sql(spec),
        load_sql_builder.ledger_active_batch_sql(spec.schema),
    ]
    if spec.mode == LoadMode.UPSERT:
        statements.append(load_sql_builder.delete_superseded_sql(spec, quote_ident(load_sql_builder.staging_table_name(spec))))
    if spec.partitioned:
        statements.append(load_sql_builder.day_keys_sql(spec))
    # Every delete policy's statements: a replaced day or table, and a moving day (the loads its extract saw).
    marks = [c.name for c in spec.columns if c.nullable and c.sql_type.startswith("timestamp")]
    for policy in ["hard", "keep", *(f"soft({c})" for c in marks[:1])]:
        with_policy = replace(spec, deletes=DeletePolicy.parse(policy))
        statements += [
            load_sql_builder.departed_rows_sql(with_policy, None),
            load_sql_builder.delete_replaced_rows_sql(with_policy) or "SELECT 1",
        ]
        if spec.partitioned:
            statements.append(load_sql_builder.departed_rows_sql(with_policy, [7, 8]))
    if spec.moves_between_days:
        statements += [load_sql_builder.count_moved_staging_rows_sql(spec), load_sql_builder.staged_row_days_sql(spec)]
    if spec.key_window_days:
        staging = quote_ident(load_sql_builder.staging_table_name(spec))
        statements += [
            *ddl_builder.create_held_back_table_sql(spec, "redshift"),
            key_window_sql.drop_held_back_of_day_sql(spec),
            *key_window_sql.hold_back_earlier_copies_sql(spec, staging),
            *key_window_sql.hold_back_offered_copies_sql(spec, staging),
            key_window_sql.held_back_days_sql(spec),
            *key_window_sql.restore_held_back_sql(spec),
            key_window_sql.count_held_back_of_day_sql(spec),
        ]
    for sql in statements:
        parsed = _parse_redshift(sql)
        assert not isinstance(parsed, exp.Command), sql  # parsed for real, not passed through


def test_insert_dedupes_with_row_number_in_the_declared_order_and_lists_columns():
    sql = load_sql_builder.insert_from_staging_sql(SESSION_TIMESTAMP)
    assert 'ROW_NUMBER() OVER (PARTITION BY "sessionid" ORDER BY "ts" DESC NULLS LAST)' in sql
    assert "SELECT *" not in sql
    insert = _parse_redshift(sql)
    assert [c.name for c in insert.this.expressions] == ["sessionid", "ts", "_partition_date", "_load_id"]


def test_dedupe_order_puts_nulls_last_in_both_directions_and_redshift_keeps_it():
    spec = TableSpec(
        schema="raw_data", name="t", columns=(Column("k", "int"), Column("ts", "timestamp"), Column("n", "int")),
        primary_key=("k",), dedupe_order=("ts desc", "n"),
    )
    assert load_sql_builder.dedupe_order_sql(spec) == '"ts" DESC NULLS LAST, "n" ASC NULLS LAST'
    insert = _parse_redshift(load_sql_builder.insert_from_staging_sql(spec))
    ordered = list(insert.find(exp.Window).args["order"].expressions)
    assert [(o.this.name, bool(o.args.get("desc")), o.args.get("nulls_first")) for o in ordered] == [
        ("ts", True, False), ("n", False, False),
    ]
    assert "NULLS LAST" in insert.sql("redshift")


def test_replace_deletes_only_its_partition_and_unpartitioned_replace_does_not_truncate():
    assert load_sql_builder.delete_replaced_rows_sql(SESSION_TIMESTAMP).endswith(
        'WHERE "_partition_date" = %(partition_date)s'
    )
    assert load_sql_builder.delete_replaced_rows_sql(CHANNEL) == 'DELETE FROM "raw_data"."channel"'


def test_upsert_deletes_matching_keys_and_append_deletes_nothing():
    base = dict(schema="raw_data", name="t", columns=(Column("k", "int"), Column("v", "int")), primary_key=("k",))
    upsert = TableSpec(**base, mode=LoadMode.UPSERT)
    assert load_sql_builder.delete_replaced_rows_sql(upsert) == (
        'DELETE FROM "raw_data"."t" USING "stg_t" s WHERE "raw_data"."t"."k" = s."k"'
    )
    assert load_sql_builder.delete_replaced_rows_sql(TableSpec(**base, mode=LoadMode.APPEND)) is None


SESSION_TRANSACTION = table("session_transaction")


def test_a_redshift_upsert_of_a_day_whose_keys_move_keeps_newer_reads_and_puts_each_row_in_its_own_day():
    staging = quote_ident(load_sql_builder.staging_table_name(SESSION_TRANSACTION))
    superseded = _parse_redshift(load_sql_builder.delete_superseded_sql(SESSION_TRANSACTION, staging))
    assert isinstance(superseded, exp.Delete) and superseded.this.name == "stg_session_transaction"
    # Newer means read later (the ledger's read_at), then requested later: never the cursor.
    newer = load_sql_builder.newer_row_sql(SESSION_TRANSACTION, "t")
    assert "l.load_id = t.\"_load_id\"" in newer and "l.read_at > %(read_at)s" in newer
    assert "updated_at" not in newer
    # Rows the extract knew of and no longer offers leave the day; the ones it never saw stay.
    departed = load_sql_builder.departed_rows_sql(SESSION_TRANSACTION, [11, 12])
    assert departed.startswith("DELETE") and '"_partition_date" = %(partition_date)s' in departed
    assert '"_load_id" IN (%(held_load_0)s, %(held_load_1)s)' in departed and "NOT EXISTS" in departed
    assert "FALSE" in load_sql_builder.departed_rows_sql(SESSION_TRANSACTION, [])
    # Under keep the rows stay (counted); under soft they are marked once, at the read's time.
    keep = replace(SESSION_TRANSACTION, deletes=DeletePolicy.parse("keep"))
    assert load_sql_builder.departed_rows_sql(keep, [11]).startswith("SELECT count(*)")
    # A replaced day under keep removes only the offered keys' rows, not the whole day.
    replaced = load_sql_builder.delete_replaced_rows_sql(replace(SESSION_TIMESTAMP, deletes=DeletePolicy.parse("keep")))
    assert "USING" in replaced and '"_partition_date" = %(partition_date)s' in replaced
    assert load_sql_builder.held_loads_params([11, 12]) == {"held_load_0": 11, "held_load_1": 12}
    # Each staged row goes to the day of its cursor, not the day being loaded.
    insert = _parse_redshift(load_sql_builder.insert_from_staging_sql(SESSION_TRANSACTION))
    select = insert.expression
    assert 'CAST("updated_at" AS DATE)' in select.sql("redshift")
    assert "%(partition_date)s" not in load_sql_builder.insert_from_staging_sql(SESSION_TRANSACTION)
    assert "%(partition_date)s" in load_sql_builder.insert_from_staging_sql(SESSION_TIMESTAMP)


def test_identifiers_and_literals_cannot_break_out():
    assert quote_ident('x"; DROP TABLE y; --') == '"x""; DROP TABLE y; --"'
    assert quote_literal("s3://b/it's") == "'s3://b/it''s'"
    with pytest.raises(ValueError):
        quote_ident("")


def test_specs_reject_inconsistent_declarations():
    with pytest.raises(ValueError, match="unknown columns"):
        TableSpec(schema="s", name="t", columns=(Column("a", "int"),), primary_key=("b",))
    with pytest.raises(ValueError, match="DISTKEY"):
        TableSpec(schema="s", name="t", columns=(Column("a", "int"),), primary_key=("a",), dist_style=DistStyle.KEY)
    bad_order = TableSpec(schema="s", name="t", columns=(Column("a", "int"),), primary_key=("a",), dedupe_order=("a; drop",))
    with pytest.raises(ValueError, match="dedupe_order"):
        load_sql_builder.insert_from_staging_sql(bad_order)


def test_truncate_option_becomes_truncatecolumns():
    from dataclasses import replace

    spec = replace(SESSION_TIMESTAMP, truncate_columns=True)
    assert "TRUNCATECOLUMNS" in load_sql_builder.copy_from_s3_manifest_sql(spec, "s3://b/m.json", "arn:aws:iam::1:role/r")
    assert "TRUNCATECOLUMNS" not in load_sql_builder.copy_from_s3_manifest_sql(SESSION_TIMESTAMP, "s3://b/m.json", "arn:aws:iam::1:role/r")


def test_load_error_lookups_parse_and_read_the_copy_of_this_session():
    from warehouse_platform.sql import redshift_load_errors as errors

    for sql in (errors.SYS_LOAD_ERROR_DETAIL_SQL, errors.STL_LOAD_ERRORS_SQL):
        assert isinstance(_parse_redshift(sql), exp.Select)
    assert "pg_backend_pid()" in errors.SYS_LOAD_ERROR_DETAIL_SQL
    assert "pg_last_copy_id()" in errors.STL_LOAD_ERRORS_SQL
    row = errors.LoadErrorRow("s3://b/part-00001.csv.gz", 42, "amount    ", "Invalid digit, Value 'x', Pos 0  ")
    assert (row.column, row.reason) == ("amount", "Invalid digit, Value 'x', Pos 0")
    assert errors.LoadErrorRow("f", None, "   ", "r").column is None


def test_secrets_are_redacted_from_displayed_statements():
    from warehouse_platform.secrets import scrub as redact_credentials

    keyed = "COPY t FROM 's3://b/m' ACCESS_KEY_ID 'AKIAEXAMPLE' SECRET_ACCESS_KEY 'wJalrEXAMPLE' SESSION_TOKEN 'tok' CSV"
    shown = redact_credentials(keyed)
    assert "AKIAEXAMPLE" not in shown and "wJalrEXAMPLE" not in shown and "tok'" not in shown
    assert shown.count("'***'") == 3
    assert redact_credentials("CREDENTIALS 'aws_access_key_id=A;aws_secret_access_key=B'") == "CREDENTIALS '***'"


def test_unload_and_local_export_share_the_options():
    from warehouse_platform.sql.export import (
        ExportOptions,
        copy_to_stdout_sql,
        unload_sql,
    )

    select = "SELECT * FROM \"analytics\".\"mau\" WHERE month >= '2026-01-01'"
    options = ExportOptions(delimiter="|")
    assert unload_sql(select, "s3://b/exports/mau/part_", "arn:aws:iam::1:role/r", options) == (
        "UNLOAD ('SELECT * FROM \"analytics\".\"mau\" WHERE month >= ''2026-01-01''')\n"
        "TO 's3://b/exports/mau/part_'\n"
        "IAM_ROLE 'arn:aws:iam::1:role/r'\n"
        "FORMAT AS CSV\nDELIMITER AS '|'\nHEADER\nGZIP\nMANIFEST VERBOSE\nALLOWOVERWRITE\nPARALLEL ON\nMAXFILESIZE 125 MB"
    )
    assert copy_to_stdout_sql(select, options).endswith(
        "TO STDOUT WITH (FORMAT csv, HEADER true, DELIMITER '|', QUOTE '\"', ENCODING 'UTF8')"
    )
    with pytest.raises(ValueError, match="UTF-8"):
        unload_sql(select, "s3://b/p", "arn", ExportOptions(encoding="EUC_KR"))


APP_EVENTS = table("app_events")


def test_a_redshift_load_of_a_day_whose_keys_repeat_in_neighbouring_days_reads_only_the_windows_days():
    """app_events declares key_window_days: the statements of its Redshift load name the window's
    days on every read of the table, and move copies with explicit column lists."""
    staging = quote_ident(load_sql_builder.staging_table_name(APP_EVENTS))
    earlier_insert, earlier_delete = key_window_sql.hold_back_earlier_copies_sql(APP_EVENTS, staging)
    assert earlier_insert.startswith('INSERT INTO "raw_data_held_back"."app_events" ("event_id", ')
    assert 'WHERE "raw_data"."app_events"."_partition_date" >= %(key_window_start)s' in earlier_insert
    assert 'AND "raw_data"."app_events"."_partition_date" < %(partition_date)s' in earlier_delete
    assert earlier_delete.startswith('DELETE FROM "raw_data"."app_events" USING "stg_app_events" s ')

    offered_insert, offered_delete = key_window_sql.hold_back_offered_copies_sql(APP_EVENTS, staging)
    # A later copy, held or held back, within (day, day + window]; one held-back copy per key.
    later = '"_partition_date" > %(partition_date)s AND "_partition_date" <= %(key_window_end)s'
    assert offered_insert.count(later) == 2 and offered_delete.count(later) == 2
    # One EXISTS over both tables' copies: a semi-join, never a subquery run per row of the day.
    assert offered_delete == (
        'DELETE FROM "stg_app_events" WHERE EXISTS (SELECT 1 FROM ('
        f'SELECT "event_id" FROM "raw_data"."app_events" WHERE {later} UNION ALL '
        f'SELECT "event_id" FROM "raw_data_held_back"."app_events" WHERE {later}) later '
        'WHERE later."event_id" = "stg_app_events"."event_id")'
    )
    assert 'ROW_NUMBER() OVER (PARTITION BY "event_id" ORDER BY "landed_file" ASC NULLS LAST, "landed_line" ASC NULLS LAST)' in offered_insert
    insert = _parse_redshift(offered_insert)
    assert [c.name for c in insert.this.expressions][-2:] == ["_partition_date", "_load_id"]

    restore_insert, restore_delete = key_window_sql.restore_held_back_sql(APP_EVENTS)
    assert restore_insert.startswith('INSERT INTO "raw_data"."app_events" (')
    for sql in (restore_insert, restore_delete):
        assert '"raw_data_held_back"."app_events"."_partition_date" = %(restore_day)s AND NOT EXISTS' in sql
        assert '"_partition_date" <= %(restore_window_end)s' in sql
    # Redshift has no DELETE ... RETURNING: a move is an INSERT and a DELETE with the same predicate.
    assert "RETURNING" not in " ".join([earlier_delete, offered_delete, restore_delete])


def test_the_held_back_table_is_the_targets_columns_outside_raw_data_distributed_like_it():
    schema, create = ddl_builder.create_held_back_table_sql(APP_EVENTS, "redshift")
    assert schema == 'CREATE SCHEMA IF NOT EXISTS "raw_data_held_back"'
    assert create.startswith('CREATE TABLE IF NOT EXISTS "raw_data_held_back"."app_events" (\n    "event_id" varchar(36) NOT NULL ENCODE zstd,')
    assert create.endswith('DISTSTYLE KEY DISTKEY("userid") SORTKEY("event_ts")')
    assert '"_partition_date" date NOT NULL' in create
    [_, local] = ddl_builder.create_held_back_table_sql(APP_EVENTS, "postgres")
    assert "PARTITION BY" not in local  # one plain table: it holds only repeated keys


def test_a_loaded_days_statistics_cover_its_partition_and_only_on_postgres_18_the_parent_without_recursing():
    from datetime import date

    from warehouse_platform.sql.partition_swap import planner_statistics_sql

    daily, day = table("session_timestamp"), date(2026, 11, 3)
    assert planner_statistics_sql(daily, day, parent_only=True) == [
        'ANALYZE "raw_data_partitions"."session_timestamp__20261103"', 'ANALYZE ONLY "raw_data"."session_timestamp"']
    # Before 18, ANALYZE of the parent would analyze every day's partition again.
    assert planner_statistics_sql(daily, day, parent_only=False) == ['ANALYZE "raw_data_partitions"."session_timestamp__20261103"']
    assert planner_statistics_sql(table("channel"), None, parent_only=True) == ['ANALYZE "raw_data"."channel"']
