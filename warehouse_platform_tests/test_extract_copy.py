"""The extract's fast path: the source writes the day's CSV itself (COPY ... TO STDOUT) and the stage
cuts it into parts without a Python object per row. What the source held must be what the
warehouse holds, the bytes must not change while the data does not, and the stage's evidence
(widths with file and line, duplicate keys) must describe the files."""

import csv
import gzip
import io
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from warehouse_platform import environment
from warehouse_platform.contract.table_spec import Column, LoadMode, SourceSpec, TableSpec
from warehouse_platform.conventions.asset_keys import raw_asset_key, stage_asset_key
from warehouse_platform.stage.io_manager import read_staged_batch
from warehouse_platform.staged_files.manifest import StagedBatch
from warehouse_platform_tests.platform_runs import platform_definitions

ODD = TableSpec(
    schema="raw_data", name="odd_values", description="Values CSV has to be careful with.",
    columns=(
        Column("id", "int", nullable=False), Column("name", "varchar(64)"), Column("note", "varchar(256)"),
        Column("seen_at", "timestamp"), Column("flag", "boolean"), Column("amount", "decimal(12, 2)"),
    ),
    primary_key=("id",), source=SourceSpec(table="app.odd_values"), mode=LoadMode.REPLACE,
)
WIDEST = "한글 é ü 😀 " * 2  # 36 bytes of UTF-8 in 18 characters
# (id, name, note, seen_at, flag, amount): what the source holds.
ODD_ROWS = [
    (1, None, "NULL stays NULL", None, None, None),
    (2, "", "empty text stays empty text, apart from NULL", datetime(2026, 11, 1), True, 0),
    (3, 'say "hi", then leave', "quotes and a comma", datetime(2026, 11, 1, 23, 59, 59, 999999), False, -1.5),
    (4, "two\nlines", "a newline inside a value", datetime(1999, 12, 31, 0, 0, 0, 1), True, 12345678.91),
    (5, "carriage\rreturn", "a carriage return", datetime(2026, 2, 28, 12, 0), False, 0.01),
    (6, WIDEST, "non-ASCII: 3, 2 and 4 bytes a character", datetime(2026, 1, 1), True, 1),
    (7, "\\.", "Postgres's old end-of-data marker, as a value", datetime(2026, 1, 2), None, 2),
    (8, "back\\slash,\\N", "backslashes mean nothing in CSV", datetime(2026, 1, 3), True, 3),
    (9, " padded ", "leading and trailing spaces", datetime(2026, 1, 4), False, 4),
]


def _execute(endpoint, *statements, params=None):
    conn = endpoint.connect()
    try:
        with conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement, params)
    finally:
        conn.close()


def _run(spec: TableSpec, instance) -> dg.ExecuteInProcessResult:
    defs = platform_definitions([spec])
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[stage_asset_key(spec), raw_asset_key(spec)], raise_on_error=False,
    )
    assert result.success, [str(e.step_failure_data.error) for e in result.get_step_failure_events()]
    return result


def _staged(spec: TableSpec, run_id: str) -> StagedBatch:
    return read_staged_batch(environment.build_stage(), f"{spec.schema}/{spec.name}", None, run_id=run_id)


def _records(url: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(gzip.decompress(Path(url.removeprefix("file://")).read_bytes()).decode())))


def _create_odd(source):
    _execute(
        source, "CREATE SCHEMA IF NOT EXISTS app",
        "CREATE TABLE app.odd_values (id int PRIMARY KEY, name varchar(64), note varchar(256), seen_at timestamp, "
        "flag boolean, amount numeric(12, 2))",
    )
    conn = source.connect()
    with conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO app.odd_values VALUES (%s, %s, %s, %s, %s, %s)", ODD_ROWS)
    conn.close()


def test_what_the_source_holds_is_what_the_warehouse_holds_whatever_the_characters_and_empty_text_is_not_null(platform_env):
    _create_odd(platform_env["source"])
    with dg.instance_for_test() as instance:
        _run(ODD, instance)
    loaded = platform_env["warehouse"].query(
        "SELECT id, name, note, seen_at, flag, amount FROM raw_data.odd_values ORDER BY id"
    )
    assert [(r[0], r[1], r[2], r[3], r[4], None if r[5] is None else float(r[5])) for r in loaded] == ODD_ROWS


def test_widths_are_utf8_bytes_found_at_their_file_and_line(platform_env):
    _create_odd(platform_env["source"])
    with dg.instance_for_test() as instance:
        run = _run(ODD, instance)
    batch = _staged(ODD, run.run_id)
    value, url = max(((p.widest["name"], p.url) for p in batch.parts if "name" in p.widest), key=lambda w: w[0].bytes)
    assert value.bytes == len(WIDEST.encode()) == 36
    # The line is the record's (header = 1), as COPY counts them, even after a value with a newline.
    assert _records(url)[value.line - 1][1] == WIDEST
    assert batch.row_count == len(ODD_ROWS) and batch.duplicate_candidates == ()


def test_an_unchanged_table_re_extracts_to_the_same_bytes_even_after_its_rows_moved(platform_env):
    """An UPDATE that changes nothing, and a VACUUM FULL, reorder the rows on disk; the extract is in
    key order, so the parts (and checksums: the ledger's no-op) stay the same."""
    source = platform_env["source"]
    _create_odd(source)
    _execute(source, "INSERT INTO app.odd_values SELECT i, md5(i::text), repeat('x', i % 50), "
             "timestamp '2026-11-01' + i * interval '1 second', i % 2 = 0, i / 7.0 FROM generate_series(100, 30099) i")
    with dg.instance_for_test() as instance:
        first = _staged(ODD, _run(ODD, instance).run_id)
        _execute(source, "UPDATE app.odd_values SET name = name WHERE id % 3 = 0")
        conn = source.connect()
        conn.autocommit = True
        conn.cursor().execute("VACUUM FULL app.odd_values")
        conn.close()
        again = _run(ODD, instance)
    second = _staged(ODD, again.run_id)
    assert first.checksums == second.checksums and len(first.parts) == 4
    assert again.asset_materializations_for_node("raw_data__odd_values")[0].metadata["already_loaded"].value is True


@pytest.mark.parametrize("repeat_at", [150, 29_999])
def test_a_key_the_source_repeats_is_named_exactly_in_the_evidence(platform_env, repeat_at):
    """A source without a primary key can repeat one: the key-ordered stream puts the copies side by
    side, so the stage names exactly those keys (the load then keeps one row for each)."""
    source = platform_env["source"]
    _execute(
        source, "CREATE SCHEMA IF NOT EXISTS app",
        "CREATE TABLE app.odd_values (id int, name varchar(64), note varchar(256), seen_at timestamp, flag boolean, "
        "amount numeric(12, 2))",
        "INSERT INTO app.odd_values SELECT i, 'n' || i, NULL, NULL, NULL, NULL FROM generate_series(1, 60000) i",
    )
    _execute(source, "INSERT INTO app.odd_values VALUES (%s, 'again', NULL, NULL, NULL, NULL)", params=(repeat_at,))
    with dg.instance_for_test() as instance:
        batch = _staged(ODD, _run(ODD, instance).run_id)
    assert batch.duplicate_candidates == ((str(repeat_at),),)
    assert platform_env["warehouse"].query("SELECT count(*) FROM raw_data.odd_values")[0][0] == 60_000


PAIRS = TableSpec(
    schema="raw_data", name="pairs", description="A table keyed by two columns.",
    columns=(Column("a", "int", nullable=False), Column("b", "varchar(8)", nullable=False), Column("v", "int")),
    primary_key=("a", "b"), source=SourceSpec(table="app.pairs"), mode=LoadMode.REPLACE,
)


def test_a_composite_key_is_extracted_in_the_order_of_all_its_columns_so_its_repeats_are_named(platform_env):
    """Ordered by every key column (not the first alone), a repeated (a, b) sits beside its copy
    whatever the source's physical order, so the stage's evidence names it; and the bytes are
    the same however the rows lie on disk."""
    source = platform_env["source"]
    _execute(
        source, "CREATE SCHEMA IF NOT EXISTS app", "CREATE TABLE app.pairs (a int, b varchar(8), v int)",
        # Physically out of key order: b descending within each a.
        "INSERT INTO app.pairs SELECT a, lpad(b::text, 4, '0'), a * b FROM generate_series(1, 40) a, "
        "generate_series(300, 1, -1) b",
        "INSERT INTO app.pairs VALUES (7, '0150', -1)",  # a repeat of (7, '0150'), last on disk
    )
    with dg.instance_for_test() as instance:
        first = _staged(PAIRS, _run(PAIRS, instance).run_id)
        assert first.duplicate_candidates == (("7", "0150"),)
        _execute(source, "UPDATE app.pairs SET v = v WHERE b < '0100'")  # moves rows on disk
        second = _staged(PAIRS, _run(PAIRS, instance).run_id)
    assert second.checksums == first.checksums
    assert platform_env["warehouse"].query("SELECT count(*) FROM raw_data.pairs")[0][0] == 40 * 300
