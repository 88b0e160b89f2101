"""The catalog's rules as pure functions (contract/catalog_rules.py, contract/identifiers.py), the
SQL they let through in both dialects (Redshift parsed with sqlglot), and the 63-byte rule for
derived names on the real embedded Postgres. The same rules reported at an entry's YAML line:
test_catalog.py."""

from dataclasses import replace

import pytest

from warehouse_platform import environment
from warehouse_platform.catalog import table
from warehouse_platform.contract.catalog_rules import ColumnDefault, parse_default, parse_order_term
from warehouse_platform.contract.identifiers import MAX_IDENTIFIER_BYTES, fit_identifier, identifier_problem
from warehouse_platform.contract.redshift_types import InvalidTypeError, validate_type
from warehouse_platform.contract.table_spec import Column, TableSpec
from warehouse_platform.sql import ddl, load
from warehouse_platform.sql import partition_swap as swap
from warehouse_platform.stage.storage import LocalFolderStage
from warehouse_platform.warehouse.loader import load_staged_batch
from warehouse_platform_tests.staged_batches import platform_batch
from warehouse_platform_tests.test_sql_builders import _parse_redshift

DECLARED_TYPES = [
    "smallint", "int", "integer", "bigint", "numeric(38,0)", "numeric(5, 2)", "decimal(12,2)", "real", "double precision",
    "boolean", "char(3)", "varchar(64)", "varchar(max)", "date", "time", "timestamp", "timestamptz",
    "timestamp with time zone", "uuid", "super", "bytea", "varbyte(16)", "inet", "cidr", "INT",
]


@pytest.mark.parametrize("sql_type", DECLARED_TYPES)
def test_every_type_of_the_grammar_is_accepted(sql_type):
    assert validate_type(sql_type) == validate_type(sql_type.upper())


@pytest.mark.parametrize(
    "sql_type",
    ["integr", "int); DROP TABLE x; --", "varchar(64) DEFAULT 1", "numeric(39,2)", "numeric(5,6)", "varchar(70000)",
     "varchar", "int /* */", "timestamp(3) with time zone; select 1", "", "text", "json", "text[]"],
)
def test_anything_outside_the_grammar_is_refused(sql_type):
    with pytest.raises(InvalidTypeError):
        validate_type(sql_type)


def test_a_default_is_a_literal_of_its_type_or_a_known_expression():
    assert parse_default("0", "int") == ColumnDefault("0", bare=True)
    assert parse_default("-12.50", "numeric(5,2)") == ColumnDefault("-12.50", bare=True)
    assert parse_default("false", "boolean") == ColumnDefault("false", bare=True)
    assert parse_default("it's", "varchar(8)") == ColumnDefault("it's")
    assert parse_default("2015-03-01", "date") == ColumnDefault("2015-03-01")
    assert parse_default("getdate()", "timestamp") == parse_default("CURRENT_TIMESTAMP", "timestamptz") == ColumnDefault(expression="now")
    for value, sql_type in [("1.234", "numeric(5,2)"), ("100000", "smallint"), ("now()", "int"), ("nextval('s')", "bigint"),
                            ("yes", "boolean"), ("abc", "varchar(2)"), ("{}", "super"), ("2015-02-30", "date")]:
        with pytest.raises(ValueError):
            parse_default(value, sql_type)


def test_defaults_are_written_by_the_platform_in_each_dialect_never_as_declared():
    columns = (
        Column("id", "int", nullable=False), Column("note", "varchar(16)", default="it's -- fine"),
        Column("seen_at", "timestamp", default="getdate()"), Column("n", "numeric(5,2)", default="1.5"),
    )
    spec = TableSpec(schema="raw_data", name="notes", columns=columns, primary_key=("id",))
    redshift = ddl.create_table_sql(spec, "redshift")
    assert "DEFAULT 'it''s -- fine'" in redshift and "DEFAULT GETDATE()" in redshift and "DEFAULT 1.5" in redshift
    _parse_redshift(redshift)
    _parse_redshift(load.create_staging_sql(spec, "redshift"))
    postgres = ddl.create_table_sql(spec, "postgres")
    assert "DEFAULT (now() AT TIME ZONE 'UTC')" in postgres
    with pytest.raises(ValueError):  # a spec built in code is held to the same rule when its DDL is written
        ddl.create_table_sql(replace(spec, columns=(*columns[:1], Column("x", "int", default="1); DROP TABLE t; --"))), "postgres")


def test_a_dedupe_order_term_is_a_declared_column_a_direction_and_where_nulls_go():
    assert parse_order_term("ts DESC nulls first", ("ts",)) == parse_order_term("ts  desc  NULLS FIRST", ("ts",))
    spec = replace(table("session_timestamp"), dedupe_order=("ts desc nulls first", "sessionid"))
    assert load.dedupe_order_sql(spec) == '"ts" DESC NULLS FIRST, "sessionid" ASC NULLS LAST'
    for term in ("ts; drop", "ts desc desc", "tss", "ts nulls", "ts sideways"):
        with pytest.raises(ValueError):
            parse_order_term(term, ("ts",))


def test_a_name_is_lower_case_plain_and_at_most_63_bytes():
    assert identifier_problem("session_2015") is None and identifier_problem("이벤트") is None
    assert "upper case" in identifier_problem("Sessions") and "plain identifier" in identifier_problem("a-b")
    assert "64 bytes" in identifier_problem("t" * 64) and "66 bytes" in identifier_problem("이" * 22)
    assert identifier_problem("이벤트", table=True).endswith("(it also names the table's Dagster ops)")
    assert identifier_problem("a$b") is None and identifier_problem("a$b", table=True) is not None


def test_a_derived_name_fits_63_bytes_and_long_stems_that_share_a_start_stay_distinct():
    a, b = "t" * 60, "t" * 59 + "u"
    assert fit_identifier("short", "__20150101") == "short__20150101"
    fitted = {fit_identifier(stem, f"__{day}") for stem in (a, b) for day in ("20150101", "20150102")}
    assert len(fitted) == 4 and all(len(name.encode()) <= MAX_IDENTIFIER_BYTES for name in fitted)
    assert all(name.endswith(("__20150101", "__20150102")) for name in fitted)
    assert len(fit_identifier("이" * 21, "__20150101").encode()) <= MAX_IDENTIFIER_BYTES  # cut on a character


def test_a_long_tables_load_table_is_found_again_by_the_sweep():
    spec = replace(table("session_timestamp"), name="s" * 63)
    name = swap.load_table_name(spec, 2**62 + 5)
    assert len(name.encode()) <= MAX_IDENTIFIER_BYTES
    parsed = swap.parse_load_table_name(name)
    assert parsed is not None and parsed[1] == 2**62 + 5 and swap.load_table_name_of(spec.name, parsed[1]) == name


def test_a_table_with_a_60_byte_name_keeps_every_day_it_loads(platform_env, tmp_path):
    """Postgres cut `<name>__<day>` at 63 bytes, so every day of such a table was one partition
    table: the second day's load replaced the first."""
    warehouse = environment.build_warehouse().process_config_and_initialize()
    stage = LocalFolderStage(root=str(tmp_path / "stage"))
    spec = replace(table("session_timestamp"), name="session_timestamps_of_the_application_kept_for_many_years_xy")
    assert len(spec.name.encode()) == 60
    for day, key in (("2015-03-01", "a" * 32), ("2015-03-02", "b" * 32)):
        load_staged_batch(warehouse, stage, spec, platform_batch(stage, spec, day, [(key, f"{day} 10:00:00")]), f"r{day}")
    assert sorted(warehouse.query(f'SELECT sessionid, _partition_date::text FROM raw_data."{spec.name}"')) == [
        ("a" * 32, "2015-03-01"), ("b" * 32, "2015-03-02"),
    ]
