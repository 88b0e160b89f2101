"""The structuring SQL generated from the catalog's declarations: Athena statements as text and
parsed by sqlglot, DuckDB's on lines given inline, and declarations the builder refuses."""

import json

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from warehouse_platform.catalog import table
from warehouse_platform.contract.log_formats import LogFormat, column_source_problem
from warehouse_platform.contract.table_spec import Column
from warehouse_platform.logs import structuring_sql as sql
from warehouse_platform.logs.reject_reasons import RejectReason

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


def test_the_same_access_line_in_two_files_has_one_key_and_in_one_file_a_key_per_occurrence(tmp_path):
    """Occurrences are counted within a file (docs/logs.md): a line shipped in two files of a day is
    one request, loaded once (the same line_id), while a repeat inside a file is another request."""
    line = '10.0.0.7 - - [03/Nov/2026:09:00:00 +0900] "GET /a HTTP/1.1" 200 512 "-" "curl/8"'
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text(f"{line}\n{line}\n")
    second.write_text(f"{line}\n")
    con = duckdb.connect()
    con.execute(sql.landed_lines_sql([(str(first), "day=2026-11-03/a.log"), (str(second), "day=2026-11-03/b.log")]))
    con.execute(sql.structure_sql(ACCESS_LOG))
    ids = con.execute(f"SELECT file, line_number, line_id FROM {sql.STRUCTURED_TABLE} ORDER BY 1, 2").fetchall()
    md5 = ids[0][2].split(":")[0]
    assert ids == [
        ("day=2026-11-03/a.log", 1, f"{md5}:1"), ("day=2026-11-03/a.log", 2, f"{md5}:2"), ("day=2026-11-03/b.log", 1, f"{md5}:1"),
    ]


def test_rows_of_one_key_are_ordered_by_file_name_then_line_whatever_order_the_files_are_given_in(tmp_path):
    """The rows' sort reads each file's number (two integers to compare instead of the file's
    name): the number must follow the names' order, not the order the pieces were read in, or the
    same files would stage different bytes and the first landed copy of a key would change."""
    line = '10.0.0.7 - - [03/Nov/2026:09:00:00 +0900] "GET /a HTTP/1.1" 200 512 "-" "curl/8"'
    late, early = tmp_path / "z.log", tmp_path / "a.log"
    early.write_text(f"{line}\n{line}\n")
    second_piece = tmp_path / "z-1.log"
    late.write_text(f"{line}\n")
    second_piece.write_text(f"{line}\n")
    con = duckdb.connect()
    # The later name first, and its second piece (1 line before it) before its first.
    con.execute(sql.landed_lines_sql([
        (str(second_piece), "day=2026-11-03/z.log", 1), (str(late), "day=2026-11-03/z.log", 0), (str(early), "day=2026-11-03/a.log", 0),
    ]))
    con.execute(sql.structure_sql(ACCESS_LOG))
    order = con.execute(
        f"SELECT landed_file, landed_line FROM ({sql.structured_rows_sql(ACCESS_LOG)})"
    ).fetchall()
    assert order == [
        ("day=2026-11-03/a.log", "1"), ("day=2026-11-03/z.log", "1"), ("day=2026-11-03/a.log", "2"), ("day=2026-11-03/z.log", "2"),
    ]


def test_a_value_the_warehouse_would_refuse_or_coerce_is_a_reject_with_its_reason(tmp_path):
    def event(i, **changes):
        values = {"event_id": f"e{i}", "event": "page_view", "user_id": 7, "ts": "2026-11-03T01:00:00Z", "properties": {"page": "/a"}}
        return json.dumps({**values, **changes}, ensure_ascii=False)

    lines = [
        event(1),
        event(2, event_id="e" * 37),  # varchar(36): 37 bytes
        event(3, event_id="가" * 13),  # 13 characters, 39 bytes: bytes count, not characters
        event(4, user_id=1.5),  # a cast would round it to 2
        event(5, properties={"page": "/a", "amount": 12.25}),
        event(6, user_id=1e3),  # 1000.0: whole, kept
        event(7).replace('"user_id": 7', '"user_id": 7, "user_id": 8'),  # first or last wins, by reader
        event(8).replace('"page": "/a"', '"page": "/a", "page": "/b"'),  # a repeat inside properties (kept whole)
        event(9, properties={"page": "/a\u0000b"}),  # a NUL, which JSON text writes as \u0000
        event(10, properties={"note": "a backslash then u0000: \\u0000"}),  # text, not a NUL: kept
        event(11, user_id=2**31),  # out of int's range
        event(12, properties={"a": 1, "b": 2, "c": 3}).replace('"c": 3', '"b": 3'),  # three keys, the last two alike
        event(13, properties={"a": 1, "b": 2, "c": 3, "d": 4}).replace('"d": 4', '"a": 4'),  # four keys, first and last
        event(14, extra="undeclared").replace('"event": "page_view"', '"event": "page_view", "event": "other"'),
        event(15, extra="undeclared", properties={"a": 1, "b": 2, "c": 3, "d": 4}),  # more keys than declared: no repeat
    ]
    rows, rejects = _structure(APP_EVENTS, lines, tmp_path)
    by_id = {r["event_id"]: r for r in rows}
    assert sorted(by_id) == ["e1", "e10", "e15", "e6"] and by_id["e6"]["userid"] == "1000"
    assert [(n, RejectReason.of(reason)) for n, reason in rejects] == [
        (2, RejectReason.TOO_WIDE), (3, RejectReason.TOO_WIDE), (4, RejectReason.FRACTION), (5, RejectReason.FRACTION),
        (7, RejectReason.DUPLICATE_KEY), (8, RejectReason.DUPLICATE_KEY), (9, RejectReason.NUL_ESCAPE),
        (11, RejectReason.WRONG_TYPE), (12, RejectReason.DUPLICATE_KEY), (13, RejectReason.DUPLICATE_KEY),
        (14, RejectReason.DUPLICATE_KEY),
    ]
    assert rejects[0][1] == "event_id ($.event_id): 37 bytes exceed varchar(36)"
    assert rejects[1][1] == "event_id ($.event_id): 39 bytes exceed varchar(36)"
    assert rejects[2][1] == "userid ($.user_id): 1.5 is a number with a fraction for int"

    long_method = '10.0.0.7 - - [03/Nov/2026:09:00:00 +0900] "' + "M" * 17 + ' /a HTTP/1.1" 200 512 "-" "curl/8"'
    _, rejects = _structure(ACCESS_LOG, [long_method], tmp_path)
    assert rejects == [(1, "method (method): 17 bytes exceed varchar(16)")]


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
