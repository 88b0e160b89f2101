"""The structuring SQL generated from the catalog's declarations: Athena statements as text and
parsed by sqlglot, DuckDB's on lines given inline, and declarations the builder refuses."""

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from warehouse_platform.catalog import table
from warehouse_platform.contract.log_formats import LogFormat, column_source_problem
from warehouse_platform.contract.table_spec import Column
from warehouse_platform.logs import structuring_sql as sql

APP_EVENTS = table("app_events")
ACCESS_LOG = table("access_log")


@pytest.mark.parametrize("spec", [APP_EVENTS, ACCESS_LOG], ids=lambda s: s.name)
def test_athena_statements_parse_with_sqlglot_and_read_the_declared_landing_folder(spec):
    create = sql.athena_lines_table_sql(spec, "landing", f"s3://stage/landing/{spec.landing_folder}", "2026-10-01")
    parsed = sqlglot.parse_one(create, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
    assert isinstance(parsed, exp.Create) and f"LOCATION 's3://stage/landing/{spec.landing_folder}/'" in create
    assert "'storage.location.template' = 's3://stage/landing/" + spec.landing_folder + "/day=${day}/'" in create

    for rejects in (False, True):
        ctas = sql.athena_ctas_sql(spec, "landing", "2026-11-03", f"s3://stage/structured/{spec.name}/day=2026-11-03", rejects=rejects)
        tree = sqlglot.parse_one(ctas, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
        assert isinstance(tree, exp.Create) and tree.expression is not None
        assert "format = 'PARQUET'" in ctas and "WHERE day = '2026-11-03'" in ctas
        selected = [s.alias_or_name for s in tree.expression.selects]
        assert selected == (["file", "reason", "line"] if rejects else list(spec.column_names))


def test_athena_reads_the_same_declared_sources_as_duckdb():
    ctas = sql.athena_ctas_sql(APP_EVENTS, "landing", "2026-11-03", "s3://stage/x")
    assert "json_extract_scalar(doc, '$.properties.page')" in ctas
    assert "json_format(json_extract(doc, '$.properties'))" in ctas
    assert "from_iso8601_timestamp" in ctas and "AT TIME ZONE 'UTC'" in ctas
    access = sql.athena_ctas_sql(ACCESS_LOG, "landing", "2026-11-03", "s3://stage/x")
    assert "parse_datetime" in access and "dd/MMM/yyyy:HH:mm:ss Z" in access


def _structure(spec, lines: list[str], tmp_path):
    path = tmp_path / "landed.txt"
    path.write_text("\n".join(lines) + "\n")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(sql.landed_lines_sql([(str(path), "landing/x/day=2026-11-03/a.jsonl")]))
    con.execute(sql.structure_sql(spec))
    rows = con.execute(sql.structured_rows_sql(spec)).fetchall()
    rejects = con.execute(sql.rejected_lines_sql()).fetchall()
    return [dict(zip(spec.column_names, r)) for r in rows], [(line, reason) for _, line, reason, _ in rejects]


def test_duckdb_normalises_offsets_to_utc_and_rejects_each_bad_line_with_its_reason(tmp_path):
    lines = [
        '{"event_id":"e1","event":"page_view","user_id":7,"ts":"2026-11-03T09:00:00.250+09:00","properties":{"page":"/a","k":[1]}}',
        '{"event_id":"e2","event":"page_view","user_id":7,"ts":"2026-11-03T00:00:00Z","properties":{}}',
        '{"event_id":"e3","event":"page_view","ts":"2026-11-03T00:00:00',  # truncated
        "",
        "plain text",
        '{"event_id":"e4","event":"x","ts":"2026-11-03T00:00:00"}',  # no offset
        '{"event_id":"e5","event":"x","user_id":"seven","ts":"2026-11-03T00:00:00Z"}',
        '{"event":"x","ts":"2026-11-03T00:00:00Z"}',
        '[1, 2]',
    ]
    rows, rejects = _structure(APP_EVENTS, lines, tmp_path)
    assert [(r["event_id"], r["event_ts"], r["page"], r["landed_line"]) for r in rows] == [
        ("e1", "2026-11-03 00:00:00.250000", "/a", "1"), ("e2", "2026-11-03 00:00:00.000000", None, "2"),
    ]
    assert rows[0]["properties"] == '{"page":"/a","k":[1]}'
    assert rejects == [
        (3, "not a JSON object (malformed or truncated JSON)"),
        (4, "empty line"),
        (5, "not a JSON object (malformed or truncated JSON)"),
        (6, "event_ts ($.ts): 2026-11-03T00:00:00 is not a timestamp with a time zone offset"),
        (7, "userid ($.user_id): seven is not of type int"),
        (8, "event_id ($.event_id): missing"),
        (9, "not a JSON object (malformed or truncated JSON)"),
    ]


def test_identical_access_lines_in_one_file_are_two_requests_with_distinct_keys(tmp_path):
    line = '10.0.0.7 - - [03/Nov/2026:09:00:00 +0900] "GET /a HTTP/1.1" 200 512 "-" "curl/8"'
    rows, rejects = _structure(ACCESS_LOG, [line, line, '10.0.0.7 - - [bad] "GET" 200'], tmp_path)
    assert [r["request_ts"] for r in rows] == ["2026-11-03 00:00:00.000000"] * 2
    assert rows[0]["line_id"].split(":")[0] == rows[1]["line_id"].split(":")[0]
    assert [r["line_id"].split(":")[1] for r in rows] == ["1", "2"]
    assert rows[0]["bytes"] == "512" and rows[0]["referrer"] is None
    assert rejects == [(3, "does not match the combined log format")]


@pytest.mark.parametrize(
    ("fmt", "column", "problem"),
    [
        (LogFormat.COMBINED_LOG, Column("page", "varchar(10)", from_json="$.page"), "from_json reads JSON lines"),
        (LogFormat.COMBINED_LOG, Column("x", "int", from_field="colour"), "is not a field of combined_log lines"),
        (LogFormat.JSON_LINES, Column("x", "int"), "exactly one of from_json"),
        (LogFormat.JSON_LINES, Column("x", "int", from_json="properties.page"), "is not a JSON path"),
    ],
)
def test_a_declared_source_the_format_cannot_read_is_refused(fmt, column, problem):
    assert problem in column_source_problem(fmt, column.from_json, column.from_field, column.sql_type)
