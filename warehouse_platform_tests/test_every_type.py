"""Every source type a real application table holds, end to end: a schema of our own in the
embedded source Postgres (numerics at their limits, negative numbers, times across a
daylight-saving change, 3- and 4-byte UTF-8, empty text beside NULL, arrays holding NULLs and
quotes, nested JSON and a JSON null, an enum, a composite, bytes, addresses) is drafted by
`warehouse-platform catalog scaffold`, loaded by a real Dagster run of a catalog made of that
draft alone, and compared with the source value by value and by a hash of every column."""

from __future__ import annotations

import re
import textwrap
from decimal import Decimal

import dagster as dg
import sqlglot
import yaml

from warehouse_platform import cli
from warehouse_platform.components.raw_table_catalog import RawTableCatalog
from warehouse_platform.conventions.asset_keys import raw_asset_key, stage_asset_key
from warehouse_platform.sql import ddl, load
from warehouse_platform.sql.row_hash import row_text_sql
from warehouse_platform_tests.platform_runs import platform_definitions

SCHEMA_SQL = [
    "CREATE SCHEMA kinds",
    "CREATE TYPE kinds.mood AS ENUM ('sad', 'ok', 'happy 😀', 'it''s \"quoted\"')",
    "CREATE TYPE kinds.pair AS (a int, b text)",
    "CREATE TABLE kinds.owner (id int PRIMARY KEY, name text NOT NULL)",
    """CREATE TABLE kinds.every_type (
        id bigint PRIMARY KEY,
        owner_id int REFERENCES kinds.owner (id),
        small smallint, whole int, big bigint NOT NULL,
        amount numeric(38, 10), price numeric(5, 2), loose numeric,
        ratio real, precise double precision,
        flag boolean, code char(3), label varchar(20), body text,
        day date, at_time time, seen timestamp, seen_tz timestamptz,
        ident uuid, doc jsonb, raw_json json, tags text[], nums int[], pair kinds.pair, mood kinds.mood,
        blob bytea, addr inet, net cidr, search tsvector
    )""",
    "COMMENT ON TABLE kinds.every_type IS 'One row per edge case of every type.'",
    "COMMENT ON COLUMN kinds.every_type.amount IS 'The largest numeric(38,10), and its negative.'",
    "COMMENT ON COLUMN kinds.every_type.mood IS 'An enum: staged as its label.'",
    "INSERT INTO kinds.owner VALUES (1, 'one'), (2, 'two')",
]
LARGEST = "9999999999999999999999999999.9999999999"
ROWS_SQL = f"""INSERT INTO kinds.every_type VALUES
    (1, 1, -32768, -2147483648, -9223372036854775808, -{LARGEST}, -999.99, -123456789.123456789,
     -3.4028235e38, -1.7976931348623157e308, false, 'abc', '', '',
     '0001-01-01', '00:00:00', '1999-12-31 23:59:59.999999', '2026-03-08 01:59:59.999999-05',
     '00000000-0000-0000-0000-000000000000', 'null', '{{"a": {{"b": [1, "two", null, {{"c": "한글"}}]}}}}',
     ARRAY['with "quotes"', NULL, 'a,b', '', '😀 4 bytes'], ARRAY[NULL, -1, 2]::int[], ROW(-1, 'x,"y"'), 'it''s "quoted"',
     '\\x00ff10', '::1', '2001:db8::/32', to_tsvector('simple', 'the quick brown fox''s tail')),
    (2, 2, 32767, 2147483647, 9223372036854775807, {LARGEST}, 999.99, 0.5,
     1.17549435e-38, 5e-324, true, 'é', '네이버 é', E'two\\nlines, "quoted", \\\\N and \\r',
     '9999-12-31', '23:59:59.999999', '2026-11-01 00:00:00', '2026-03-08 03:00:00-04',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{{"nested": {{"deeper": [{{}}, [], "", null]}}, "n": 1.5e300}}', '[]',
     ARRAY[]::text[], ARRAY[1], ROW(NULL, NULL), 'happy 😀', '\\x', '192.168.0.1/24', '10.0.0.0/8', ''),
    (3, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, '2026-10-25 01:30:00+01', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (4, 1, 0, 0, 1, 0, 0, 0, 0.1, 0.1, true, '  ', ' padded ', '😀', '2024-02-29', '12:00:00', '2026-10-25 02:30:00',
     '2026-10-25 02:30:00+02', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12', '"just a string"', '{{"dup": 1, "dup": 2}}',
     ARRAY['NULL', 'null'], ARRAY[0], ROW(0, ''), 'sad', '\\x5c4e', '10.1.2.3', '0.0.0.0/0', 'a:1 b:2')
"""


def _execute(endpoint, *statements):
    conn = endpoint.connect()
    try:
        with conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def _scaffold(capsys, *tables: str) -> str:
    assert cli.main(["catalog", "scaffold", *tables]) == 0
    return capsys.readouterr().out


def _catalog(entries: str):
    text = "type: warehouse_platform.components.raw_table_catalog.RawTableCatalog\nattributes:\n  tables:\n"
    text += textwrap.indent(entries, "    ")
    return RawTableCatalog.model_validate(yaml.safe_load(text)["attributes"]).specs


def test_a_table_of_every_type_is_scaffolded_loaded_by_yaml_alone_and_equal_to_the_source(platform_env, capsys):
    source, warehouse = platform_env["source"], platform_env["warehouse"]
    _execute(source, *SCHEMA_SQL, ROWS_SQL)
    draft = _scaffold(capsys, "kinds.every_type")

    # The draft says what the source says: mapped types, the key, comments, the join.
    assert "- name: every_type" in draft and "description: One row per edge case of every type." in draft
    assert '{name: amount, type: "numeric(38,10)", description: "The largest numeric(38,10), and its negative."}' in draft
    assert '{name: price, type: "numeric(5,2)"' in draft  # quoted: inside { } a comma would end it
    for column, declared in [
        ("mood", "varchar(256)"), ("tags", "super"), ("pair", "super"), ("doc", "super"), ("raw_json", "super"),
        ("seen_tz", "timestamptz"), ("ident", "uuid"), ("blob", "varbyte(65535)"), ("addr", "inet"), ("net", "cidr"),
        ("code", "varchar(12)"), ("label", "varchar(80)"), ("search", "varchar(64)"), ("small", "smallint"), ("precise", "double precision"),
    ]:
        assert re.search(rf"\{{name: {column}, type: \"?{re.escape(declared)}\"?[,}}]", draft), (column, draft)
    assert "{name: big, type: bigint, nullable: false" in draft
    assert "primary_key: [id]" in draft and "join_columns: [owner_id]" in draft

    [spec] = _catalog(draft)
    defs = platform_definitions([spec])
    with dg.instance_for_test() as instance:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, asset_selection=[stage_asset_key(spec), raw_asset_key(spec)], raise_on_error=False,
        )
    assert result.success, [str(e.step_failure_data.error) for e in result.get_step_failure_events()]
    # Every check of the table passes, source parity (every column of every row) among them.
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations["source_parity"] and all(evaluations.values()), evaluations

    # Value by value, as the driver reads each side (an array, JSON and a timestamp with a zone
    # come back as Python values; the composite as JSON in the warehouse, so it is compared as JSON).
    columns = [f'"{c}"' for c in spec.column_names if c != "pair"]
    got = warehouse.query(f"SELECT {', '.join(columns)}, pair FROM raw_data.every_type ORDER BY id")
    # char(3) is read back as its text, without the padding Postgres ignores (and Redshift's CHAR cannot hold é).
    source_columns = ", ".join("code::varchar" if c == '"code"' else c for c in columns)
    want = source.query(f"SELECT {source_columns}, to_jsonb(pair) FROM kinds.every_type ORDER BY id")
    normal = [[bytes(v) if isinstance(v, memoryview) else v for v in row] for row in got + want]
    assert normal[: len(got)] == normal[len(got):]
    # The edge values themselves, not only their agreement.
    by_id = {row[0]: row for row in got}
    names = [c for c in spec.column_names if c != "pair"] + ["pair"]
    value = lambda i, name: by_id[i][names.index(name)]  # noqa: E731
    assert value(2, "amount") == Decimal(LARGEST) and value(1, "amount") == Decimal("-" + LARGEST)  # (unary minus would round to 28 digits)
    assert value(1, "label") == "" and value(3, "label") is None  # empty text is not NULL
    assert value(1, "doc") is None and value(3, "doc") is None  # JSON null and SQL NULL both read as None...
    [(json_null, sql_null)] = warehouse.query(
        "SELECT (SELECT doc::text FROM raw_data.every_type WHERE id = 1), (SELECT doc FROM raw_data.every_type WHERE id = 3) IS NULL"
    )
    assert (json_null, sql_null) == ("null", True)  # ...but stay apart in the warehouse
    assert value(1, "tags") == ['with "quotes"', None, "a,b", "", "😀 4 bytes"]
    assert bytes(value(1, "blob")) == b"\x00\xff\x10" and value(2, "mood") == "happy 😀"
    # 01:59:59.999999 EST and 03:00 EDT are a microsecond apart across the spring-forward hour.
    assert (value(2, "seen_tz") - value(1, "seen_tz")).total_seconds() == 1e-6

    # And by a hash of every column of every row, rendered the way source parity renders it.
    def hashes(endpoint, table, side):
        return dict(endpoint.query(f"SELECT id, MD5({row_text_sql(spec, 'r', side)}) FROM {table} r"))

    assert hashes(warehouse, "raw_data.every_type", "postgres") == hashes(source, "kinds.every_type", "source")


def test_the_redshift_ddl_copy_and_parity_sql_for_every_type_parse_as_redshift(platform_env, capsys):
    _execute(platform_env["source"], *SCHEMA_SQL)
    [spec] = _catalog(_scaffold(capsys, "kinds.every_type"))
    statements = [
        ddl.create_table_sql(spec, "redshift"),
        load.create_staging_sql(spec, "redshift"),
        load.copy_from_s3_manifest_sql(spec, "s3://stage/raw_data/every_type/manifest.json", "arn:aws:iam::1:role/r"),
        f"SELECT MD5({row_text_sql(spec, 'r', 'redshift')}) FROM raw_data.every_type r",
    ]
    for sql in statements:
        sqlglot.parse_one(re.sub(r"%\((\w+)\)s", r"'\1'", sql), read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    table = statements[0]
    for expected in ('"seen_tz" timestamptz', '"ident" char(36)', '"doc" super', '"tags" super', '"blob" varbyte(65535)',
                     '"addr" varchar(43)', '"amount" numeric(38,10)', '"mood" varchar(256)'):
        assert expected in table, (expected, table)
    assert "NULL AS ''" in statements[2] and "EMPTYASNULL" not in statements[2]



def test_catalog_diff_finds_the_shipped_catalog_in_agreement_with_its_source_and_names_a_change(platform_env, capsys):
    from datetime import date

    from warehouse_platform.sample_data.session_generator import GeneratorConfig
    from warehouse_platform_tests.platform_runs import seed

    seed(platform_env["source"], date(2026, 11, 1), 1, GeneratorConfig(scale=0.01))
    code = cli.main(["catalog", "diff"])
    out = capsys.readouterr().out
    assert code == 0 and out.strip().endswith("the catalog and the source agree"), out
    _execute(platform_env["source"], "ALTER TABLE app.transactions ALTER COLUMN amount TYPE numeric(12, 2)")
    assert cli.main(["catalog", "diff"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "raw_data.session_transaction: amount: declared int, the source's numeric maps to numeric(12,2)"
    ]
