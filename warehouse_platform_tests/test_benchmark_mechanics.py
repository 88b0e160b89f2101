"""The benchmarks' mechanics (not their figures): bench.json keeps every tool's sections, figures
are medians of repeated runs with their spread, ratios are between medians of one run, the run's
time is accounted for by phase, the wide typed table is declared through the catalog like any
table and a day of it arrives in the warehouse as the source holds it, and a day's run carries no
library its steps do not use."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from warehouse_platform.benchmarks import load_benchmark, wide_table
from warehouse_platform.benchmarks.report import ratio_of_medians, summarize, write_sections
from warehouse_platform.catalog import load_catalog
from warehouse_platform.sql import ddl
from warehouse_platform_tests.test_sql_builders import _parse_redshift

BENCHMARKS = Path(load_benchmark.__file__).parent


def test_writing_a_section_of_bench_json_keeps_every_other_section(tmp_path):
    output = tmp_path / "bench.json"
    output.write_text(json.dumps({"catalog": {"tables": 200}, "results": {"old": 1}}))

    write_sections(output, {"results": {"pipe_floor": {"seconds": 1.0}}, "results_wide": {}})

    assert json.loads(output.read_text()) == {
        "catalog": {"tables": 200}, "results": {"pipe_floor": {"seconds": 1.0}}, "results_wide": {},
    }
    assert [p.name for p in tmp_path.iterdir()] == ["bench.json"]  # no temporary file left


def test_every_benchmark_writes_bench_json_through_the_one_writer():
    """The rule 'keep the other sections' is written once (report.write_sections): no benchmark
    reads and rewrites bench.json by itself."""
    for path in sorted(BENCHMARKS.glob("*_benchmark.py")):
        tree = ast.parse(path.read_text())
        calls = {
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            for node in ast.walk(tree) if isinstance(node, ast.Call)
        }
        assert "write_sections" in calls, f"{path.name} does not write through report.write_sections"
        writes = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                  and n.func.attr == "write_text" and "json.dumps" in ast.unparse(n)]
        assert not writes, f"{path.name} line {writes[0]} writes JSON itself"


def test_a_figure_is_the_median_of_its_runs_with_their_spread():
    assert summarize([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "spread": 1.0, "runs": 3}
    with pytest.raises(ValueError):
        summarize([])


def test_ratios_are_between_medians_of_the_same_run():
    results = load_benchmark.with_ratios({
        "pipe_floor": load_benchmark.combine_runs([{"seconds": s, "peak_rss_mb": 40} for s in (2.0, 9.0, 2.2)], 1000),
        "platform_end_to_end": load_benchmark.combine_runs(
            [{"seconds": s, "peak_rss_mb": m} for s, m in ((2.4, 200), (2.0, 230), (20.0, 210))], 1000),
    }, "pipe_floor")

    # One slow run of either moves neither median: 2.2 / 2.4, not a ratio of means.
    assert results["platform_end_to_end"]["x_floor"] == ratio_of_medians(2.4, 2.2) == 0.92
    assert results["platform_end_to_end"]["samples_s"] == [2.4, 2.0, 20.0]
    assert results["platform_end_to_end"]["peak_rss_mb"] == 230  # the highest of the runs
    assert results["pipe_floor"]["x_floor"] == 1.0


def test_the_day_through_its_load_is_a_median_and_a_ratio_of_its_own():
    runs = [{"seconds": s, "peak_rss_mb": 1, "phases": {"loaded_at_s": loaded}} for s, loaded in ((5.0, 2.0), (6.0, 3.0), (9.0, 2.5))]
    results = load_benchmark.with_ratios({
        "pipe_floor": load_benchmark.combine_runs([{"seconds": 2.5, "peak_rss_mb": 1}], 1000),
        "platform_end_to_end": load_benchmark.combine_runs(runs, 1000),
    }, "pipe_floor")
    assert results["platform_end_to_end"]["loaded_s"] == 2.5
    assert results["platform_end_to_end"]["x_floor_loaded"] == 1.0
    assert results["platform_end_to_end"]["x_floor"] == 0.42


def test_a_failed_run_fails_the_figure_instead_of_leaving_the_median_of_the_others():
    combined = load_benchmark.combine_runs([{"seconds": 1.0, "peak_rss_mb": 1}, {"error": "boom"}], 10)
    assert combined == {"error": "boom", "runs": 2, "failed_runs": 1}


def test_the_phases_of_a_run_account_for_its_time():
    events = [  # (time, type, step), as the event log records them (run events under PIPELINE_*)
        (100.5, "PIPELINE_START", None), (101.0, "STEP_START", "stage"), (103.0, "STEP_SUCCESS", "stage"),
        (103.5, "STEP_START", "load"), (103.6, "ASSET_CHECK_EVALUATION", "load"), (104.5, "STEP_SUCCESS", "load"),
        (104.75, "PIPELINE_SUCCESS", None),
    ]
    phases = load_benchmark.run_phases(events, called_at=100.0, returned_at=105.0)
    assert phases == {
        "before_run_start_s": 0.5, "steps_s": {"stage": 2.0, "load": 1.0}, "between_steps_s": 1.25,
        "after_last_step_s": 0.25, "after_run_end_s": 0.25, "last_check_at_s": 3.6,
        "loaded_at_s": 3.0, "checks_s": 1.0, "checks_evaluated": 1,
    }
    accounted = phases["before_run_start_s"] + sum(phases["steps_s"].values()) + phases["between_steps_s"]
    assert accounted + phases["after_run_end_s"] == 5.0


def test_the_wide_table_is_declared_through_the_catalog_like_any_table(tmp_path):
    (spec,) = load_catalog(wide_table.write_catalog(tmp_path))

    assert len(spec.columns) == 20
    types = {c.sql_type for c in spec.columns}
    assert {"bigint", "int", "numeric(12,2)", "double precision", "boolean", "date", "timestamp", "timestamptz",
            "uuid", "super", "varchar(2)", "varchar(1024)"} <= types
    # One contract, both dialects: the Redshift DDL parses, and JSON and UUID take Redshift's types.
    redshift = ddl.create_table_sql(spec, "redshift")
    _parse_redshift(redshift)
    assert '"attributes" SUPER' in redshift.replace("super", "SUPER") and '"order_uuid" char(36)' in redshift


@pytest.fixture
def wide_day(platform_env, tmp_path, monkeypatch):
    """A wide day of 3,000 rows in the test's source database, and the platform's instance."""
    from warehouse_platform.instance.config import prepare_dagster_home

    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home()))
    source = platform_env["source"]
    dsn = f"host={source.host} port={source.port} user={source.user} dbname={source.dbname}"
    conn = psycopg2.connect(dsn)
    wide_table.fill_source(conn, 3000, load_benchmark.DAY)
    conn.close()
    return dsn


def _run_contender(name: str, dsn: str, workdir: Path, shape: str) -> dict:
    env = {**os.environ, "BENCH_WORKDIR": str(workdir), "BENCH_SHAPE": shape,
           "BENCH_DAY_QUERY": load_benchmark._bound_day_query(dsn, shape, workdir),
           "BENCH_TABLE": load_benchmark._table_layout(shape, workdir)}
    done = subprocess.run(
        [sys.executable, "-m", "warehouse_platform.benchmarks.load_benchmark", "--contender", name, "--rows", "3000",
         "--dsn", dsn, "--workdir", str(workdir)], capture_output=True, text=True, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rows_as_text(dsn: str, table: str) -> list[str]:
    columns = ", ".join(f'"{c}"' for c in json.loads(load_benchmark._table_layout("wide", Path("/tmp")))["columns"])
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute(f"SELECT t::text FROM (SELECT {columns} FROM {table}) t ORDER BY 1")
        rows = [r[0] for r in cur.fetchall()]
    conn.close()
    return rows


def test_a_wide_day_arrives_as_the_source_holds_it_by_the_platform_and_by_the_floor(wide_day, tmp_path):
    platform = _run_contender("platform_end_to_end", wide_day, tmp_path, "wide")
    _run_contender("pipe_floor", wide_day, tmp_path, "wide")

    source = _rows_as_text(wide_day, "app.wide_orders")
    assert len(source) == 3000
    assert any("김민준" in r for r in source) and any('""' in r for r in source)  # Korean, and quotes in JSON
    assert _rows_as_text(wide_day, "raw_data.wide_orders") == source
    assert _rows_as_text(wide_day, "public.pipe_floor") == source
    # The day runs to its last check, as a daily run does: the table's per-day checks ran after the load.
    assert {"stage__raw_data__wide_orders", "raw_data__wide_orders", "raw_data__wide_orders__checks_of_each_load",
            "stage__raw_data__wide_orders_redshift_type_limits"} <= set(platform["phases"]["steps_s"])
    # Duplicate keys, reconciliation, row volume and source parity (one step), and the type limits.
    assert platform["phases"]["checks_evaluated"] == 5
    assert platform["phases"]["last_check_at_s"] > platform["phases"]["loaded_at_s"]


def test_a_days_run_loads_no_library_its_steps_do_not_use(wide_day, tmp_path):
    """pandas (pulled in by pyarrow when it converts a Python value), boto3 and dagster_aws (an S3
    stage's), dbt, DuckDB, sqlglot: none is in the process after a day of a table with integer
    columns and a key was extracted, staged on a folder and loaded."""
    outcome = _run_contender("platform_end_to_end", wide_day, tmp_path, "wide")
    assert outcome["unused_libraries_loaded"] == []


def test_staging_allocates_from_an_arrow_pool_that_gives_memory_back():
    """mimalloc, Arrow's default, kept the segments the parts' threads freed (about 50 MB of a
    day's peak RSS); the part writer chooses jemalloc (or the system allocator), unless
    ARROW_DEFAULT_MEMORY_POOL says otherwise."""
    code = "import pyarrow as pa, warehouse_platform.staged_files.part_writer; print(pa.default_memory_pool().backend_name)"
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    chosen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert chosen.stdout.strip() in ("jemalloc", "system")
    asked = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**env, "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"})
    assert asked.stdout.strip() == "mimalloc"
