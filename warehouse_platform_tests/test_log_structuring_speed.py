"""The structuring step's faster plan gives exactly what the plain one gave: the list form of
JSON extraction against a call per path, the occurrence count of repeated access lines against
a window over every line, and the FIFO between DuckDB's ordered COPY and the stage writer,
which never leaves either side blocked when the other fails."""

import hashlib
import os
import threading
from datetime import date

import duckdb
import pytest

from warehouse_platform.catalog import table
from warehouse_platform.logs import structuring_sql as sql
from warehouse_platform.sample_data.log_generator import generate_logs
from warehouse_platform.stage import log_structuring
from warehouse_platform.stage.landed_files import LandedFiles
from warehouse_platform.stage.storage import LocalFolderStage

APP_EVENTS = table("app_events")
ACCESS_LOG = table("access_log")

# Values whose text json_extract_string and json_extract give in their own ways: numbers with
# fractions and exponents, nested objects and arrays, null, escapes, a duplicate key (first wins).
TRICKY_JSON_LINES = [
    '{"event_id":"a","event":"x","user_id":1.5,"session_id":null,"ts":"2026-11-03T00:00:00Z","properties":{"page":"/p","amount":1e3}}',
    '{"event_id":"b","event":"x","user_id":[1,2],"ts":"2026-11-03T00:00:00+09:00","properties":{"page":{"a":[1, {"b":2}]}}}',
    '{"event_id":"c\\u00e9\\n","event":"\\"q\\"","user_id":"7","ts":1,"properties":[1,2]}',
    '{"event_id":"d","event_id":"e","event":true,"properties":{"amount":-0,"page":""}}',
    '{"properties":{}}',
    '{}',
    '[1,2]',
    '{"broken"',
    '',
]


def _lines_table(con, tmp_path, files: dict[str, list[str]]) -> None:
    landed = []
    for i, (name, lines) in enumerate(files.items()):
        path = tmp_path / f"landed-{i}.txt"
        path.write_text("".join(line + "\n" for line in lines))
        landed.append((str(path), name, 0))
    con.execute(sql.landed_lines_sql(landed))


def test_every_json_path_is_read_in_one_parse_of_the_line():
    structure = sql.structure_sql(APP_EVENTS)
    assert structure.count("json_extract_string(") == 1 and structure.count("json_extract(") == 1
    # Athena keeps a call per column (it has no list form): its text is not changed by this.
    assert "json_extract_scalar(doc, '$.event_id')" in sql.athena_ctas_sql(APP_EVENTS, "landing", "2026-11-03", "s3://x/")


def test_the_list_form_gives_each_column_what_a_call_per_path_gives(tmp_path):
    con = duckdb.connect()
    _lines_table(con, tmp_path, {"landing/a.jsonl": TRICKY_JSON_LINES})
    # The reference: one json_extract a column, as the plan did before the list form.
    doc = "CASE WHEN json_valid(line) AND json_type(line) = 'OBJECT' THEN line END"
    columns = []
    for c in APP_EVENTS.columns:
        if c.from_json is None:
            continue
        if c.sql_type == "super":
            columns.append(f"CAST(json_extract(doc, '{c.from_json}') AS VARCHAR) AS {c.name}")
        else:
            columns.append(f"json_extract_string(doc, '{c.from_json}') AS {c.name}")
    expected = con.execute(
        f"SELECT line_number, {', '.join(columns)} FROM (SELECT line_number, {doc} AS doc FROM {sql.LINES_TABLE}) ORDER BY line_number"
    ).fetchall()
    raws = con.execute(
        f"""WITH {sql._numbered_lines(APP_EVENTS, sql.LINES_TABLE, sql._DUCKDB)}, parsed AS (
            SELECT numbered.*, {doc} AS doc{sql._DUCKDB.json_values('doc', APP_EVENTS)} FROM numbered)
        SELECT line_number, {', '.join(sql._raw_value(APP_EVENTS, c, sql._DUCKDB) for c in APP_EVENTS.columns if c.from_json)}
        FROM parsed ORDER BY line_number"""
    ).fetchall()
    assert raws == expected and len(raws) == len(TRICKY_JSON_LINES)
    # and the whole structuring runs on them, every line a row or a reject
    con.execute(sql.structure_sql(APP_EVENTS))
    assert con.execute(f"SELECT count(*) FROM {sql.STRUCTURED_TABLE}").fetchone() == (len(TRICKY_JSON_LINES),)


def _occurrences(con, spec) -> list[tuple]:
    return con.execute(
        f"WITH {sql._numbered_lines(spec, sql.LINES_TABLE, sql._DUCKDB)} "
        "SELECT file, line_number, line_md5, occurrence FROM numbered ORDER BY file, line_number"
    ).fetchall()


def test_occurrences_of_repeated_access_lines_are_those_of_a_window_over_every_line_of_their_file(tmp_path):
    """Lines repeated within a file and across files, far apart and next to each other: each
    line's occurrence is counted within its own file only, in line order."""
    a, b, c = ('10.0.0.1 - - [03/Nov/2026:09:00:00 +0900] "GET /%s HTTP/1.1" 200 1 "-" "ua"' % p for p in "abc")
    files = {
        "landing/logs/access_log/day=2026-11-03/one.log": [a, b, a, a, c, "", "", b] + [f"{a} {i}" for i in range(50)] + [a],
        "landing/logs/access_log/day=2026-11-03/two.log": [b, a, "", c, c, a],
        "landing/logs/access_log/day=2026-11-03/three.log": [c],
    }
    con = duckdb.connect()
    _lines_table(con, tmp_path, files)
    reference = con.execute(
        f"SELECT file, line_number, md5(line), row_number() OVER (PARTITION BY file, line ORDER BY line_number) "
        f"FROM {sql.LINES_TABLE} ORDER BY file, line_number"
    ).fetchall()
    got = _occurrences(con, ACCESS_LOG)
    assert got == reference
    counts = {(f, o) for f, _, m, o in got if m == hashlib.md5(a.encode()).hexdigest()}
    assert counts == {("landing/logs/access_log/day=2026-11-03/one.log", n) for n in (1, 2, 3, 4)} | {
        ("landing/logs/access_log/day=2026-11-03/two.log", n) for n in (1, 2)}


def test_a_table_without_line_id_counts_no_occurrences():
    assert "occurrence" not in sql.structure_sql(APP_EVENTS) and "md5" not in sql.structure_sql(APP_EVENTS)


# --- the FIFO between the ordered COPY and the stage writer -----------------------------------

class _Sink:
    def __init__(self, fail_after: int | None = None) -> None:
        self.data = bytearray()
        self.fail_after = fail_after

    def write(self, chunk: bytes) -> int:
        if self.fail_after is not None and len(self.data) >= self.fail_after:
            raise ValueError("the writer refused a record")
        self.data += chunk
        return len(chunk)


def _copy(con, query: str, tmp_path, sink) -> BaseException | None:
    """_copy_through_fifo on a thread, so a side left blocked fails the test instead of hanging it."""
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            log_structuring._copy_through_fifo(con, f"COPY ({query}) TO '{fifo}' (FORMAT csv, HEADER true)", fifo, sink)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - returned to the test
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the COPY or its reader was left blocked"
    return outcome[0]


ROWS = "SELECT range AS n, 'text, with a comma' AS t FROM range(200000) ORDER BY n DESC"


def test_the_fifo_hands_the_writer_the_bytes_the_copy_writes_to_a_file(tmp_path):
    con = duckdb.connect()
    sink = _Sink()
    assert _copy(con, ROWS, tmp_path, sink) is None
    con.execute(f"COPY ({ROWS}) TO '{tmp_path / 'file.csv'}' (FORMAT csv, HEADER true)")
    assert bytes(sink.data) == (tmp_path / "file.csv").read_bytes() and len(sink.data) > 4 << 20


def test_a_copy_that_fails_before_it_writes_raises_its_error_and_leaves_no_reader_waiting(tmp_path):
    error = _copy(duckdb.connect(), "SELECT * FROM no_such_table", tmp_path, _Sink())
    assert isinstance(error, duckdb.CatalogException) and "no_such_table" in str(error)


def test_a_copy_that_fails_midway_raises_its_error(tmp_path):
    query = "SELECT CASE WHEN range = 150000 THEN error('bad row 150000') ELSE range END AS n, 'x' AS t FROM range(200000)"
    error = _copy(duckdb.connect(config={"threads": 1}), query, tmp_path, _Sink())
    assert error is not None and "bad row 150000" in str(error)


def test_a_writer_that_fails_stops_the_copy_and_its_error_is_raised(tmp_path):
    error = _copy(duckdb.connect(), ROWS, tmp_path, _Sink(fail_after=1 << 20))
    assert isinstance(error, ValueError) and "refused a record" in str(error)


# --- the profile ------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", [APP_EVENTS, ACCESS_LOG], ids=lambda s: s.name)
def test_the_step_reports_wall_and_cpu_seconds_of_each_stage_and_stages_the_same_bytes_when_timed(spec, tmp_path):
    stage = LocalFolderStage(root=str(tmp_path))
    keys = []
    for f in generate_logs([date(2026, 11, 3)], malformed=True).files:
        if f"/{spec.name}/" in f.key:
            (tmp_path / f.key).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / f.key).write_bytes(f.data)
            keys.append((f.key, "v1"))
    batches = []
    timings: dict = {}
    for i, into in enumerate((None, timings)):
        batch, _ = log_structuring.structure_landed_logs(
            stage, f"raw_data/{spec.name}/day=2026-11-03/batch={i}", "2026-11-03", LandedFiles(spec, tuple(keys)),
            slice_count=2, timings=into,
        )
        batches.append([p.sha256 for p in batch.parts])
    assert batches[0] == batches[1]
    assert tuple(timings) == log_structuring.STAGES
    assert all(wall >= 0 and cpu >= 0 for wall, cpu in timings.values())
