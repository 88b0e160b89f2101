"""The declared types' closed grammar and its map to both dialects (contract/column_types.py),
the source types' map to declared types, the kinds a column may not change across, and the
scaffold's drafts (contract/scaffold.py), tested without a database."""

import re

import pytest
import sqlglot
import yaml

from warehouse_platform.contract import scaffold, source_contract
from warehouse_platform.contract.column_types import SourceType, parse_type, type_kind, warehouse_type_for_source
from warehouse_platform.contract.source_contract import SourceColumn
from warehouse_platform.contract.table_spec import Column, SourceSpec, TableSpec
from warehouse_platform.sql import ddl


@pytest.mark.parametrize(
    ("declared", "postgres", "redshift"),
    [
        ("smallint", "smallint", "smallint"), ("int2", "smallint", "smallint"), ("integer", "int", "int"),
        ("bigint", "bigint", "bigint"), ("numeric(12, 2)", "numeric(12,2)", "numeric(12,2)"),
        ("decimal(38,10)", "numeric(38,10)", "numeric(38,10)"), ("real", "real", "real"),
        ("double precision", "double precision", "double precision"), ("float8", "double precision", "double precision"),
        ("boolean", "boolean", "boolean"), ("char(3)", "char(3)", "char(3)"), ("VARCHAR(32)", "varchar(32)", "varchar(32)"),
        ("varchar(max)", "varchar(65535)", "varchar(65535)"), ("character varying(8)", "varchar(8)", "varchar(8)"),
        ("date", "date", "date"), ("time", "time", "time"), ("timestamp", "timestamp", "timestamp"),
        ("timestamp with time zone", "timestamptz", "timestamptz"), ("timestamptz", "timestamptz", "timestamptz"),
        ("uuid", "uuid", "char(36)"), ("super", "jsonb", "super"), ("varbyte(16)", "bytea", "varbyte(16)"),
        ("bytea", "bytea", "varbyte(65535)"), ("inet", "inet", "varchar(43)"), ("cidr", "cidr", "varchar(43)"),
    ],
)
def test_every_declared_type_maps_to_both_dialects_from_its_parsed_parts(declared, postgres, redshift):
    parsed = parse_type(declared)
    assert (parsed.postgres, parsed.redshift) == (postgres, redshift)
    # The canonical spelling reads back as the same type.
    assert parse_type(parsed.declared) == parsed


@pytest.mark.parametrize(
    ("declared", "says"),
    [
        ("numeric(39,0)", "at most 38 digits"), ("numeric(5,6)", "scale is at most the precision"),
        ("numeric", "numeric(p,s)"), ("text", "varchar(n)"), ("json", "declare super"), ("int[]", "declared super"),
        ("varchar(65536)", "1 to 65,535 bytes"), ("varchar(0)", "1 to 65,535 bytes"), ("integr", "not a type the platform knows"),
        ("int; DROP TABLE raw_data.users", "not a type"), ("varchar(32) DEFAULT now()", "not a type"),
        ("int) ; select 1 --", "not a type"), ("timetz", "time"), ("", "not a type"),
        # What YAML leaves of `{name: price, type: numeric(5,2)}`: the value ends at the comma.
        ("numeric(5", 'must be quoted: type: "numeric(12,2)"'),
    ],
)
def test_a_type_outside_the_grammar_is_refused_saying_what_to_write(declared, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_type(declared)


def test_numeric_with_a_comma_is_read_unquoted_in_a_block_mapping_and_must_be_quoted_in_a_flow_mapping():
    block = yaml.safe_load("name: price\ntype: numeric(5,2)\n")
    assert parse_type(block["type"]).declared == "numeric(5,2)"
    flow = yaml.safe_load("{name: price, type: numeric(5,2)}")
    with pytest.raises(ValueError, match="must be quoted"):
        parse_type(flow["type"])
    assert parse_type(yaml.safe_load('{name: price, type: "numeric(5,2)"}')["type"]).declared == "numeric(5,2)"


def test_timestamp_and_timestamptz_are_different_kinds_so_that_retype_is_drift():
    assert type_kind("timestamp") != type_kind("timestamptz")
    assert type_kind("timestamp without time zone") == "timestamp" and type_kind("timestamp with time zone") == "timestamptz"
    spec = TableSpec(
        schema="raw_data", name="events", columns=(Column("id", "int"), Column("ts", "timestamp")), primary_key=("id",),
        source=SourceSpec(table="app.events"),
    )
    drift = source_contract.compare(spec, [SourceColumn("id", "int"), SourceColumn("ts", "timestamptz")])
    assert drift.retyped == (("ts", "timestamp", "timestamptz"),)
    with pytest.raises(ValueError, match="'ts' is declared timestamp but app.events now has timestamptz"):
        source_contract.resolve(spec, drift)


@pytest.mark.parametrize(
    ("source", "declared"),
    [
        (SourceType("USER-DEFINED", "mood", typtype="e"), "varchar(256)"),
        (SourceType("ARRAY", "_text"), "super"), (SourceType("ARRAY", "_int4"), "super"),
        (SourceType("jsonb", "jsonb"), "super"), (SourceType("json", "json"), "super"),
        (SourceType("USER-DEFINED", "pair", typtype="c"), "super"),
        (SourceType("uuid", "uuid"), "uuid"), (SourceType("bytea", "bytea"), "varbyte(65535)"),
        (SourceType("inet", "inet"), "inet"), (SourceType("cidr", "cidr"), "cidr"),
        (SourceType("numeric", "numeric", precision=5, scale=2), "numeric(5,2)"),
        (SourceType("numeric", "numeric"), "numeric(38,10)"),
        (SourceType("character varying", "varchar", char_length=20), "varchar(80)"),
        (SourceType("character", "bpchar", char_length=3), "varchar(12)"),
        (SourceType("text", "text"), "varchar(65535)"), (SourceType("tsvector", "tsvector"), "varchar(65535)"),
        (SourceType("timestamp with time zone", "timestamptz"), "timestamptz"),
        (SourceType("time without time zone", "time"), "time"), (SourceType("smallint", "int2"), "smallint"),
        (SourceType("double precision", "float8"), "double precision"), (SourceType("real", "float4"), "real"),
    ],
)
def test_a_source_type_maps_to_the_declared_type_that_holds_its_values(source, declared):
    assert warehouse_type_for_source(source)[0] == declared
    parse_type(declared)  # always inside the grammar


def test_an_enum_array_or_json_source_column_declared_as_its_mapped_type_is_not_drift():
    spec = TableSpec(
        schema="raw_data", name="films", primary_key=("id",), source=SourceSpec(table="app.films"),
        columns=(Column("id", "int"), Column("rating", "varchar(16)"), Column("features", "super"), Column("doc", "super")),
    )
    found = [source_contract.source_column(row) for row in [
        ("id", "integer", "int4", None, 32, 0, "b"), ("rating", "USER-DEFINED", "mpaa_rating", None, None, None, "e"),
        ("features", "ARRAY", "_text", None, None, None, "b"), ("doc", "jsonb", "jsonb", None, None, None, "b"),
    ]]
    assert source_contract.compare(spec, found).retyped == ()


def test_a_query_sources_array_and_json_columns_are_super_by_their_type_oids():
    description = [("tags", 1009, None, -1), ("doc", 3802, None, -1), ("at", 1184, None, 8), ("id", 2950, None, 16)]
    assert [c.sql_type for c in source_contract.columns_from_description(description)] == ["super", "super", "timestamptz", "uuid"]


def test_the_redshift_ddl_of_every_declared_type_parses_and_nothing_else_reaches_it():
    types = ["smallint", "int", "bigint", "numeric(38,10)", "real", "double precision", "boolean", "char(3)", "varchar(8)",
             "date", "time", "timestamp", "timestamptz", "uuid", "super", "varbyte(16)", "inet", "cidr"]
    spec = TableSpec(schema="raw_data", name="t", primary_key=("c0",),
                     columns=tuple(Column(f"c{i}", t) for i, t in enumerate(types)))
    sqlglot.parse_one(ddl.create_table_sql(spec, "redshift"), read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    sqlglot.parse_one(ddl.create_table_sql(spec, "postgres"), read="postgres", error_level=sqlglot.ErrorLevel.RAISE)
    hostile = TableSpec(schema="raw_data", name="t", primary_key=("a",),
                        columns=(Column("a", "int"), Column("b", "int, c int); CREATE TABLE public.x (y int")))
    for dialect in ("postgres", "redshift"):
        with pytest.raises(ValueError, match="not a type"):
            ddl.create_table_sql(hostile, dialect)


FILMS = scaffold.SourceTable(
    schema="app", name="film", comment="A film in the catalogue.", rows=1_000, total_bytes=500_000,
    columns=(
        scaffold.SourceColumnInfo("film_id", SourceType("integer", "int4"), nullable=False),
        scaffold.SourceColumnInfo("title", SourceType("character varying", "varchar", char_length=255), False, "The title."),
        scaffold.SourceColumnInfo("rating", SourceType("USER-DEFINED", "mpaa_rating", typtype="e"), True),
        scaffold.SourceColumnInfo("price", SourceType("numeric", "numeric", precision=4, scale=2), True),
        scaffold.SourceColumnInfo("language_id", SourceType("smallint", "int2"), False),
        scaffold.SourceColumnInfo("last_update", SourceType("timestamp without time zone", "timestamp"), False),
    ),
    primary_key=("film_id",), referenced_by=("film_id",),
    foreign_keys=(scaffold.ForeignKey(("language_id",), "app.language", ("language_id",)),),
)
RENTALS = scaffold.SourceTable(
    schema="app", name="rental", rows=5_000_000, total_bytes=900_000_000,
    columns=(
        scaffold.SourceColumnInfo("rental_id", SourceType("integer", "int4"), False),
        scaffold.SourceColumnInfo("rental_date", SourceType("timestamp with time zone", "timestamptz"), False),
        scaffold.SourceColumnInfo("customer_id", SourceType("integer", "int4"), False),
    ),
    primary_key=("rental_id",), foreign_keys=(scaffold.ForeignKey(("customer_id",), "app.customer", ("customer_id",)),),
)


def _entries(text: str) -> list[dict]:
    return yaml.safe_load(text)


def test_a_scaffolded_entry_is_valid_yaml_with_mapped_types_comments_key_and_an_incremental_cursor():
    text = scaffold.scaffold([FILMS])
    [entry] = _entries(text)
    assert entry["name"] == "film" and entry["description"] == "A film in the catalogue."
    assert entry["source"] == {"table": "app.film"} and entry["primary_key"] == ["film_id"]
    assert [(c["name"], c["type"]) for c in entry["columns"]] == [
        ("film_id", "int"), ("title", "varchar(1020)"), ("rating", "varchar(256)"), ("price", "numeric(4,2)"),
        ("language_id", "smallint"), ("last_update", "timestamp"),
    ]
    assert entry["columns"][1]["description"] == "The title." and entry["columns"][1]["nullable"] is False
    # last_update moves when a row changes: read incrementally, upserted; small: a copy on every node.
    assert entry["incremental"] == {"cursor": "last_update", "lookback_days": 1} and entry["mode"] == "upsert"
    assert entry["partitioning"] == "whole_table" and entry["distribution"]["style"] == "ALL"
    assert entry["distribution"]["join_columns"] == ["language_id", "film_id"]
    assert "# the enum mpaa_rating" in text


def test_a_large_table_with_a_when_column_is_drafted_daily_and_distributed_on_its_join():
    [entry] = _entries(scaffold.scaffold([RENTALS]))
    assert entry["partitioning"] == {"daily_by": "rental_date"} and entry["mode"] == "replace"
    assert entry["distribution"] == {"style": "KEY", "key": "customer_id", "sort_key": ["rental_date"]}


def test_diff_names_each_disagreement_of_the_catalog_with_its_source():
    spec = TableSpec(
        schema="raw_data", name="film", primary_key=("title",), source=SourceSpec(table="app.film"),
        columns=(Column("film_id", "int", nullable=False), Column("title", "varchar(64)", nullable=False),
                 Column("rating", "int"), Column("price", "numeric(4,2)", nullable=False), Column("gone", "int")),
    )
    found = scaffold.disagreements(spec, FILMS)
    assert found == [
        "raw_data.film: title: declared varchar(64), narrower than the source's character varying(255) (up to 1020 bytes)",
        "raw_data.film: rating: declared int, the source's USER-DEFINED maps to varchar(256)",
        "raw_data.film: price: declared NOT NULL, the source allows NULL",
        "raw_data.film: gone: declared, but app.film has no such column",
        "raw_data.film: language_id: in app.film, not declared",
        "raw_data.film: last_update: in app.film, not declared",
        "raw_data.film: primary key: declared ['title'], the source's is ['film_id']",
    ]


def test_a_catalog_column_whose_numeric_type_yaml_cut_at_the_comma_is_refused_saying_to_quote_it():
    from warehouse_platform.components.raw_table_catalog import RawTableCatalog

    entry = """tables:
  - name: prices
    description: Prices.
    source: {table: app.prices}
    partitioning: whole_table
    columns:
      - {name: id, type: int}
      - {name: price, type: numeric(5,2)}
      - name: tax
        type: numeric(5,2)
    primary_key: [id]
"""
    with pytest.raises(ValueError, match=re.escape('must be quoted: type: "numeric(12,2)"')):
        RawTableCatalog.model_validate(yaml.safe_load(entry))
    # Quoted inside { }, or unquoted in a block mapping, it is read as written.
    fixed = entry.replace("type: numeric(5,2)}", 'type: "numeric(5,2)"}')
    [spec] = RawTableCatalog.model_validate(yaml.safe_load(fixed)).specs
    assert [c.sql_type for c in spec.columns] == ["int", "numeric(5,2)", "numeric(5,2)"]


def test_a_query_sources_enum_composite_and_enum_array_columns_are_read_by_what_their_type_oids_are():
    # OIDs of the database's own types, as type_kinds_sql reports them.
    description = [("rating", 16_500, None, 4), ("pair", 16_510, None, -1), ("moods", 16_499, None, -1)]
    kinds = {16_500: "e", 16_510: "c", 16_499: "A"}
    assert [c.sql_type for c in source_contract.columns_from_description(description, kinds)] == [
        "varchar(256)", "super", "super",
    ]
