"""Load benchmark (not a test): the platform's stage -> warehouse path against the floor and
the usual alternatives, in one run, on the same data and the same embedded Postgres.

    make bench                 # 2,000,000 rows
    make bench ROWS=5000000
    make bench-scaling         # platform_end_to_end alone at 1M, 2M, 5M and 10M rows

Contenders, each in its own process so its peak RSS is its own. The load (stage -> warehouse):
  copy_floor           bare COPY FROM STDIN of the uncompressed CSV into an identical table
  platform_load        the platform's load of the same rows as a new day (staged gzip parts
                       + manifest -> raw_data.user_session_channel; dedupe, ledger, checks)
  platform_upsert      the same day again with 50% of rows changed, mode upsert
  handwritten_upsert   the usual hand-written staging upsert of those changed rows: COPY into a
                       temp table, DELETE ... USING, INSERT, one transaction
  pandas_to_sql        DataFrame.to_sql(method="multi"), what people write by hand (on a subset)
  dlt                  dlt, Arrow input, append
  dlt_merge            dlt, the changed rows merged on sessionid
The whole day (application database -> warehouse), all reading the platform's extract query:
  pipe_floor           the source's COPY (query) TO STDOUT piped into the warehouse's COPY FROM
                       STDIN (no files, no checks)
  dlt_sql_database     dlt's sql_database source (pyarrow backend; connectorx as well) into its
                       postgres destination, append
  sling                Sling postgres -> postgres for the same query (SLING_BINARY, else the
                       sling-linux-amd64 package's binary)
  platform_end_to_end  the platform's day through Dagster: stage parts + manifest + checksums +
                       widths + key evidence, load + ledger
The whole day runs on two tables: the narrow sessions table (three short columns) and the wide,
typed orders table (benchmarks/wide_table.py: 20 columns, declared in a catalog entry of its own).

Every contender runs --repeats times (3 by default), each time in a fresh process, in rounds (every
contender once, then again), so a change in the machine's load weighs on all of them alike. The
source is read warm: it was just written, and every contender before it read it. Each figure is
the median of the runs with its spread; a ratio is between two medians of this run. The code
location's import time and memory are measured in a process of their own.

Writes .platform/bench.json ("results", "results_wide", "code_location", "machine"; "scaling" for
make bench-scaling), keeping every other section (benchmarks/report.py).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from warehouse_platform.benchmarks import wide_table
from warehouse_platform.benchmarks.report import ratio_of_medians, summarize, write_sections

DAY = "2026-11-01"
PANDAS_SUBSET = 20_000
CHANNELS = ("Google", "Facebook", "Naver", "Instagram", "Youtube", "Organic")
COLUMNS = ("userid", "sessionid", "channel")
LOAD_CONTENDERS = [
    "copy_floor", "platform_load", "platform_upsert", "handwritten_upsert", "pandas_to_sql", "dlt", "dlt_merge",
]
DAY_CONTENDERS = ["pipe_floor", "dlt_sql_database", "dlt_sql_database_connectorx", "sling", "platform_end_to_end"]
ORDER = LOAD_CONTENDERS + DAY_CONTENDERS
SCALING_ROWS = (1_000_000, 2_000_000, 5_000_000, 10_000_000)
SHAPES = ("narrow", "wide")
# Libraries a day of an extracted table (extract, stage on a folder, load, checks) never uses.
UNUSED_BY_A_DAY = ("pandas", "boto3", "dagster_aws", "dagster_dbt", "dbt", "duckdb", "sqlglot")
# Each shape's application table: what dlt's sql_database reads by name (the others read the
# platform's extract query of the table's catalog entry).
SOURCE_TABLES = {"narrow": ("app", "sessions"), "wide": ("app", "wide_orders")}
SOURCE_CACHE = "warm: each contender reads the source just after it was written and read by the contenders before it"


def _peak_rss_mb() -> float:
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a child would
    # report the parent's peak from before it was started.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _rows(n: int, changed: bool) -> list[tuple[str, str, str]]:
    # Here, not at the top: a contender's process would carry numpy in its peak RSS without using it.
    import numpy as np

    names = np.array(CHANNELS)
    rng = np.random.default_rng(7)
    users = rng.integers(1, max(2, n // 4), n).astype(str).tolist()
    channels = rng.integers(0, len(CHANNELS), n)
    if changed:  # every other row moves to the next channel
        channels = np.where(np.arange(n) % 2 == 0, (channels + 1) % len(CHANNELS), channels)
    ids = [hashlib.md5(f"bench:{i}".encode()).hexdigest() for i in range(n)]
    return list(zip(users, ids, names[channels].tolist()))


def _write_csv(path: Path, rows) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)


def _stage(workdir: Path, name: str, rows) -> None:
    """Stage rows exactly as the platform's StageIOManager does: gzip parts + manifest."""
    from warehouse_platform.catalog import table
    from warehouse_platform.stage.batch_writer import write_staged_batch
    from warehouse_platform.stage.storage import LocalFolderStage
    from warehouse_platform.staged_files.row_batches import RowBatches

    spec = table("user_session_channel")

    batches = (rows[i : i + 50_000] for i in range(0, len(rows), 50_000))
    write_staged_batch(
        LocalFolderStage(root=str(workdir / name)), f"raw_data/user_session_channel/day={DAY}", spec.qualified_name, DAY,
        RowBatches(COLUMNS, batches, spec.text_column_names, spec.primary_key), slice_count=4,
    )


def _load_batch(workdir: Path, name: str):
    from warehouse_platform.stage.storage import LocalFolderStage
    from warehouse_platform.staged_files.manifest import StagedBatch

    stage = LocalFolderStage(root=str(workdir / name))
    key = f"raw_data/user_session_channel/day={DAY}/manifest.json"
    return stage, StagedBatch.from_manifest_json(stage.read_text(key), stage.url_for(key))


def _connect(dsn: str):
    import psycopg2

    return psycopg2.connect(dsn)


def _checkpoint(dsn: str) -> None:
    conn = _connect(dsn)
    conn.autocommit = True
    conn.cursor().execute("CHECKPOINT")
    conn.close()


def _drop_schemas(dsn: str, *schemas: str) -> None:
    """Before a repeat: what the previous run of a contender loaded goes, so every run loads into
    the same empty place (a second platform run of the same files would be a no-op by the ledger,
    a second dlt append would load onto the first)."""
    from warehouse_platform.sql.quoting import quote_ident

    conn = _connect(dsn)
    conn.autocommit = True
    for schema in schemas:
        conn.cursor().execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
    conn.close()


def _spec(shape: str, workdir: Path):
    """The table a shape is declared as, read through the catalog like any table."""
    from warehouse_platform.catalog import load_catalog, table

    if shape == "narrow":
        return table("user_session_channel")
    (spec,) = load_catalog(wide_table.write_catalog(workdir))
    return spec


# --- contenders (each runs in its own process) --------------------------------------------


def run_copy_floor(dsn: str, workdir: Path, rows: int) -> dict:
    conn = _connect(dsn)
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS public.copy_floor")
    cur.execute("CREATE TABLE public.copy_floor (userid int, sessionid varchar(32), channel varchar(32))")
    conn.commit()
    started = time.perf_counter()
    with open(workdir / "sessions.csv") as f:
        cur.copy_expert("COPY public.copy_floor FROM STDIN WITH (FORMAT csv, HEADER)", f, size=1 << 20)
    conn.commit()
    return {"seconds": time.perf_counter() - started}


def _platform_load(dsn: str, workdir: Path, name: str, upsert: bool) -> dict:
    from warehouse_platform.catalog import table
    from warehouse_platform.contract.table_spec import LoadMode
    from warehouse_platform.warehouse.loader import load_staged_batch
    from warehouse_platform.warehouse.resources import PostgresWarehouse

    declared = table("user_session_channel")
    spec = replace(declared, mode=LoadMode.UPSERT) if upsert else declared
    if not upsert:  # the upsert lands on what this load loaded, in the same round
        _drop_schemas(dsn, "raw_data")
    warehouse = PostgresWarehouse(dsn=dsn)
    stage, batch = _load_batch(workdir, name)
    warehouse.ensure_table(spec)
    started = time.perf_counter()
    report = load_staged_batch(warehouse, stage, spec, batch, run_id=f"bench-{name}")
    seconds = time.perf_counter() - started
    assert report.partition_rows == batch.row_count, (report.partition_rows, batch.row_count)
    return {"seconds": seconds, "rows_loaded": report.rows_loaded, "files": report.files}


def run_platform_load(dsn: str, workdir: Path, rows: int) -> dict:
    return _platform_load(dsn, workdir, "stage_v1", upsert=False)


def run_platform_upsert(dsn: str, workdir: Path, rows: int) -> dict:
    return _platform_load(dsn, workdir, "stage_v2", upsert=True)


def run_handwritten_upsert(dsn: str, workdir: Path, rows: int) -> dict:
    conn = _connect(dsn)
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS public.handwritten")
    cur.execute("CREATE TABLE public.handwritten (userid int, sessionid varchar(32), channel varchar(32))")
    with open(workdir / "sessions.csv") as f:
        cur.copy_expert("COPY public.handwritten FROM STDIN WITH (FORMAT csv, HEADER)", f, size=1 << 20)
    conn.commit()
    started = time.perf_counter()
    cur.execute("CREATE TEMPORARY TABLE changes (LIKE public.handwritten INCLUDING DEFAULTS) ON COMMIT DROP")
    with open(workdir / "sessions_changed.csv") as f:
        cur.copy_expert("COPY changes FROM STDIN WITH (FORMAT csv, HEADER)", f, size=1 << 20)
    cur.execute("DELETE FROM public.handwritten t USING changes s WHERE t.sessionid = s.sessionid")
    cur.execute("INSERT INTO public.handwritten SELECT * FROM changes")
    conn.commit()
    return {"seconds": time.perf_counter() - started}


def run_pandas_to_sql(dsn: str, workdir: Path, rows: int) -> dict:
    import pandas as pd
    import sqlalchemy

    subset = min(rows, PANDAS_SUBSET)
    frame = pd.read_csv(workdir / "sessions.csv", nrows=subset)
    engine = sqlalchemy.create_engine("postgresql+psycopg2://", creator=lambda: _connect(dsn))
    started = time.perf_counter()
    frame.to_sql("pandas_sessions", engine, schema="public", if_exists="replace", index=False, method="multi", chunksize=1000)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds * rows / subset, "extrapolated_from": subset}


def _dlt_pipeline(dsn: str, name: str):
    import dlt
    import psycopg2.extensions

    parts = psycopg2.extensions.parse_dsn(dsn)
    # dlt insists on a password; the embedded server trusts local connections and ignores it.
    credentials = {
        "database": parts["dbname"], "username": parts["user"], "password": parts.get("password") or "unused",
        "host": "localhost", "port": int(parts.get("port", 5432)),
        # libpq lets a `host` query parameter override the URL's host: that is how a unix-socket
        # directory reaches dlt's connection string.
        "query": {"host": parts["host"]},
    }
    _drop_schemas(dsn, name, f"{name}_staging")
    pipelines_dir = Path(os.environ["BENCH_WORKDIR"]) / "dlt_pipelines"
    shutil.rmtree(pipelines_dir / name, ignore_errors=True)  # its state from a previous repeat
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.postgres(credentials=credentials),
        dataset_name=name,
        pipelines_dir=str(pipelines_dir),
    )


def _arrow(workdir: Path, name: str):
    import pyarrow.csv as pacsv

    return pacsv.read_csv(workdir / name)


def run_dlt(dsn: str, workdir: Path, rows: int) -> dict:
    table = _arrow(workdir, "sessions.csv")
    pipeline = _dlt_pipeline(dsn, "dlt_append")
    started = time.perf_counter()
    pipeline.run(table, table_name="sessions", write_disposition="append")
    return {"seconds": time.perf_counter() - started}


def run_dlt_merge(dsn: str, workdir: Path, rows: int) -> dict:
    pipeline = _dlt_pipeline(dsn, "dlt_merge")
    pipeline.run(_arrow(workdir, "sessions.csv"), table_name="sessions", write_disposition="merge", primary_key="sessionid")
    changed = _arrow(workdir, "sessions_changed.csv")
    started = time.perf_counter()
    pipeline.run(changed, table_name="sessions", write_disposition="merge", primary_key="sessionid")
    return {"seconds": time.perf_counter() - started}


def _memory_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def run_platform_end_to_end(dsn: str, workdir: Path, rows: int) -> dict:
    """Source database -> stage -> warehouse for one day, through Dagster, timed as a whole,
    with where the time went (phases, from the run's own event log)."""
    imports_started = time.perf_counter()
    import dagster as dg

    from warehouse_platform.automation.jobs import per_day_checks
    from warehouse_platform.extract import assets as extract_assets
    from warehouse_platform.extract.source_database import SourceDatabase
    from warehouse_platform.quality import checks as quality_checks
    from warehouse_platform.stage.io_manager import StageIOManager
    from warehouse_platform.stage.storage import LocalFolderStage
    from warehouse_platform.warehouse import assets as warehouse_assets
    from warehouse_platform.warehouse.io_manager import WarehouseIOManager
    from warehouse_platform.warehouse.resources import PostgresWarehouse

    imports_s = time.perf_counter() - imports_started
    rss_after_imports = _memory_mb("VmRSS")
    _drop_schemas(dsn, "raw_data", "raw_data_held_back")  # a repeat loads the day anew, not a no-op
    shutil.rmtree(workdir / "stage_e2e", ignore_errors=True)
    stage = LocalFolderStage(root=str(workdir / "stage_e2e"))
    warehouse = PostgresWarehouse(dsn=dsn)
    tables = [_spec(os.environ.get("BENCH_SHAPE", "narrow"), workdir)]
    selection = [*extract_assets.build_defs(tables).assets, *warehouse_assets.build_defs(tables).assets]
    selection = [a for a in selection if isinstance(a, dg.AssetsDefinition)]
    # The day ends with its last check, as a daily run's does: the per-day checks the day's job
    # runs (not skew, a whole-table check of check_tables), the same list the job is built from.
    checks = list(quality_checks.build_defs(tables).asset_checks or [])
    day_run = dg.AssetSelection.assets(*(a.key for a in selection)).without_checks() | dg.AssetSelection.checks(
        *per_day_checks(tables))
    # The platform's own instance (DAGSTER_HOME, prepared by the parent: runs and events in the
    # embedded Postgres, as every entry point and a deployment record them), not a throwaway
    # SQLite one, whose per-run database files and fsyncs were most of a small day's fixed cost
    # and are no part of a deployed run. It exists before any run: not part of the day's time.
    with dg.DagsterInstance.get() as instance:
        called_at = time.time()
        started = time.perf_counter()
        result = dg.materialize(
            [*selection, *checks], selection=day_run, partition_key=DAY, instance=instance, tags={"benchmark": "platform_end_to_end"},
            resources={
                "source_db": SourceDatabase(dsn=dsn),
                "stage": stage,
                "warehouse": warehouse,
                "stage_io_manager": StageIOManager(stage=stage, slice_count=4),
                "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse, stage=stage),
            },
        )
        seconds = time.perf_counter() - started
        returned_at = time.time()
        events = [
            (e.timestamp, e.dagster_event.event_type_value, e.dagster_event.step_key)
            for e in instance.all_logs(result.run_id) if e.dagster_event is not None
        ]
    if os.environ.get("BENCH_EVENTS"):  # the whole timeline, for profiling by hand
        for at, kind, step in events:
            print(f"{at - called_at:8.3f} {kind} {step or ''}", file=sys.stderr)
    assert result.success
    return {
        "seconds": seconds, "imports_s": round(imports_s, 3), "rss_after_imports_mb": rss_after_imports,
        # What the day's steps do not use and a run should not carry (pandas, boto3, dbt, ...).
        "unused_libraries_loaded": [m for m in UNUSED_BY_A_DAY if m in sys.modules],
        "phases": run_phases(events, called_at, returned_at),
    }


def run_phases(events: list[tuple[float, str, str | None]], called_at: float, returned_at: float) -> dict:
    """Where a run's time went, from its events (wall-clock time, event type, step key):
    before RUN_START (building the job from the selection, planning, creating the run), each step
    from its STEP_START to its STEP_SUCCESS or STEP_FAILURE, the gaps between steps (launching
    the next step, resources, IO managers' loads), from the last step to RUN_SUCCESS, then back to
    the caller; and when the last check result was recorded."""
    # Dagster still records a run's start and end under their old names (PIPELINE_*).
    aliases = {"PIPELINE_START": "RUN_START", "PIPELINE_SUCCESS": "RUN_SUCCESS", "PIPELINE_FAILURE": "RUN_FAILURE"}
    events = [(at, aliases.get(kind, kind), step) for at, kind, step in events]
    first = {}
    for at, kind, step in events:
        first.setdefault((kind, step), at)
    run_start = first.get(("RUN_START", None), called_at)
    run_end = next((at for (kind, _), at in first.items() if kind in ("RUN_SUCCESS", "RUN_FAILURE")), returned_at)
    steps = {}
    for (kind, step), at in first.items():
        if kind == "STEP_START":
            end = first.get(("STEP_SUCCESS", step), first.get(("STEP_FAILURE", step), run_end))
            steps[step] = round(end - at, 3)
    step_ends = [first.get(("STEP_SUCCESS", s), run_end) for s in steps]
    checks = [at for at, kind, _ in events if kind == "ASSET_CHECK_EVALUATION"]
    # A step that evaluated a check is a check's step; the others move the data.
    check_steps = {step for _, kind, step in events if kind == "ASSET_CHECK_EVALUATION"}
    data_ends = [first.get(("STEP_SUCCESS", s), run_end) for s in steps if s not in check_steps]
    return {
        "before_run_start_s": round(run_start - called_at, 3),
        "steps_s": steps,
        "between_steps_s": round((run_end - run_start) - sum(steps.values()), 3),
        "after_last_step_s": round(run_end - max(step_ends, default=run_end), 3),
        "after_run_end_s": round(returned_at - run_end, 3),
        "last_check_at_s": round(max(checks) - called_at, 3) if checks else None,
        "checks_evaluated": len(checks),
        # When the day was loaded, before its checks: the time a run without checks would take.
        "loaded_at_s": round(max(data_ends) - called_at, 3) if data_ends else None,
        "checks_s": round(sum(v for k, v in steps.items() if k in check_steps), 3),
    }


# --- the whole day: application database -> warehouse ---------------------------------------


def _bound_day_query(dsn: str, shape: str, workdir: Path) -> str:
    """The platform's own extract of the day (sql/extract.py), which every whole-day
    contender reads. Bound in the parent and handed to the children in BENCH_DAY_QUERY, so a
    contender's peak RSS is not the platform's imports."""
    from datetime import datetime, timedelta

    from warehouse_platform.sql import extract as extract_sql

    start = datetime.fromisoformat(DAY)
    conn = _connect(dsn)
    try:
        return conn.cursor().mogrify(
            extract_sql.extract_sql(_spec(shape, workdir)), {"day_start": start, "day_end": start + timedelta(days=1)}
        ).decode()
    finally:
        conn.close()


def _table_layout(shape: str, workdir: Path) -> str:
    """What the non-platform contenders need of the table, from its catalog entry: the columns'
    DDL in the local dialect (sql/ddl.py), their names, the day column and the key. Made in the
    parent and handed over in BENCH_TABLE, like the query, so their processes import nothing of
    the platform's and their peak RSS is their own."""
    from warehouse_platform.sql.ddl import column_type
    from warehouse_platform.sql.quoting import quote_ident

    spec = _spec(shape, workdir)
    return json.dumps({
        "ddl": ", ".join(f"{quote_ident(c.name)} {column_type(c, 'postgres')}" for c in spec.columns),
        "columns": [c.name for c in spec.columns], "day_column": spec.source.day_column, "key": list(spec.primary_key),
    })


def _fresh_target(dsn: str, name: str) -> None:
    """An empty public.<name> with the declared columns in the local dialect's types, what the
    platform's raw table holds minus its own columns. `name` is one of this module's constants."""
    layout = json.loads(os.environ["BENCH_TABLE"])
    conn = _connect(dsn)
    conn.cursor().execute(f'DROP TABLE IF EXISTS public."{name}"; CREATE TABLE public."{name}" ({layout["ddl"]})')
    conn.commit()
    conn.close()


def run_pipe_floor(dsn: str, workdir: Path, rows: int) -> dict:
    import threading

    query = os.environ["BENCH_DAY_QUERY"]
    _fresh_target(dsn, "pipe_floor")
    source, target = _connect(dsn), _connect(dsn)
    read_end, write_end = os.pipe()
    started = time.perf_counter()

    def produce() -> None:
        with open(write_end, "wb", buffering=1 << 20) as out:
            source.cursor().copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", out, size=1 << 20)

    producer = threading.Thread(target=produce)
    producer.start()
    with open(read_end, "rb", buffering=1 << 20) as into:
        target.cursor().copy_expert("COPY public.pipe_floor FROM STDIN WITH (FORMAT csv)", into, size=1 << 20)
    producer.join()
    target.commit()
    seconds = time.perf_counter() - started
    cur = target.cursor()
    cur.execute("SELECT count(*) FROM public.pipe_floor")
    assert cur.fetchone()[0] == rows
    return {"seconds": seconds}


def _sqlalchemy_url(dsn: str, driver: str = "postgresql+psycopg2") -> str:
    import psycopg2.extensions

    parts = psycopg2.extensions.parse_dsn(dsn)
    return f"{driver}://{parts['user']}@/{parts['dbname']}?host={parts['host']}&port={parts.get('port', 5432)}"


def _dlt_sql_database(dsn: str, workdir: Path, rows: int, backend: str) -> dict:
    from datetime import datetime, timedelta

    import sqlalchemy as sa
    from dlt.sources.sql_database import sql_table

    layout = json.loads(os.environ["BENCH_TABLE"])
    schema, name = SOURCE_TABLES[os.environ.get("BENCH_SHAPE", "narrow")]
    start = datetime.fromisoformat(DAY)

    def query(_query, table):
        # The extract's columns, day and order (what BENCH_DAY_QUERY says in SQL).
        day = table.c[layout["day_column"]]
        return sa.select(*(table.c[c] for c in layout["columns"])).where(
            sa.and_(day >= start, day < start + timedelta(days=1))
        ).order_by(*(table.c[k] for k in layout["key"]))

    source = sql_table(
        credentials=_sqlalchemy_url(dsn), schema=schema, table=name, backend=backend, query_adapter_callback=query,
        **({"backend_kwargs": {"conn": _connectorx_url(dsn)}} if backend == "connectorx" else {}),
    )
    pipeline = _dlt_pipeline(dsn, f"dlt_sql_{backend}")
    started = time.perf_counter()
    info = pipeline.run(source, table_name=name, write_disposition="append")
    seconds = time.perf_counter() - started
    info.raise_on_failed_jobs()
    return {"seconds": seconds}


def _connectorx_url(dsn: str) -> str:
    import psycopg2.extensions

    parts = psycopg2.extensions.parse_dsn(dsn)
    return f"postgresql://{parts['user']}@localhost:{parts.get('port', 5432)}/{parts['dbname']}?host={parts['host']}"


def run_dlt_sql_database(dsn: str, workdir: Path, rows: int) -> dict:
    return _dlt_sql_database(dsn, workdir, rows, "pyarrow")


def run_dlt_sql_database_connectorx(dsn: str, workdir: Path, rows: int) -> dict:
    return _dlt_sql_database(dsn, workdir, rows, "connectorx")


def _sling_binary() -> str:
    if binary := os.environ.get("SLING_BINARY"):
        return binary
    import sling_linux_amd64  # the `sling` package downloads its binary at import; this one ships it

    return sling_linux_amd64.SLING_BIN


def run_sling(dsn: str, workdir: Path, rows: int) -> dict:
    import psycopg2.extensions

    parts = psycopg2.extensions.parse_dsn(dsn)
    # An empty host and a `host` parameter: how a unix-socket directory reaches Sling's driver.
    url = f"postgresql://{parts['user']}@/{parts['dbname']}?host={parts['host']}&port={parts.get('port', 5432)}&sslmode=disable"
    query = os.environ["BENCH_DAY_QUERY"]
    _fresh_target(dsn, "sling_sessions")
    env = {**os.environ, "BENCH_SRC": url, "BENCH_TGT": url, "SLING_HOME_DIR": str(workdir / "sling"),
           "SLING_DISABLE_TELEMETRY": "true"}
    started = time.perf_counter()
    completed = subprocess.run(
        [_sling_binary(), "run", "--src-conn", "BENCH_SRC", "--src-stream", query,
         "--tgt-conn", "BENCH_TGT", "--tgt-object", "public.sling_sessions", "--mode", "full-refresh"],
        capture_output=True, text=True, env=env, check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError((completed.stderr or completed.stdout).strip().splitlines()[-1])
    # Sling runs in a child process: its peak memory is its own, read from the kernel's accounting.
    return {"seconds": seconds, "peak_rss_mb_child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


def run_code_location() -> dict:
    """What loading the code location costs a process: importing it and building its definitions
    (the defs folder: the catalog's tables, the dbt models, the resources), as `dg` and a run
    worker do. Which heavy libraries the import alone brought in says what a step pays for
    without using."""
    started = time.perf_counter()
    from warehouse_platform import definitions

    import_s = time.perf_counter() - started
    rss_after_import = _memory_mb("VmRSS")
    heavy = [m for m in ("dagster_aws", "boto3", "dagster_dbt", "dbt", "duckdb", "sqlglot", "pandas", "pyarrow", "numpy")
             if m in sys.modules]
    started = time.perf_counter()
    defs = definitions.build_definitions()
    build_s = time.perf_counter() - started
    return {
        "import_s": round(import_s, 3), "rss_after_import_mb": rss_after_import, "imported_on_import": heavy,
        "build_definitions_s": round(build_s, 3), "assets": len(list(defs.assets or [])),
    }


# --- orchestration ------------------------------------------------------------------------


def _prepare_source(dsn: str, rows: int, shape: str = "narrow") -> None:
    """The application's table: `rows` rows, all on DAY, generated in the database (a 10M-row
    day would not fit in this process as Python objects). Narrow: sessions whose ids are the same
    as the load contenders' (md5 of "bench:<i>"); wide: benchmarks/wide_table.py."""
    conn = _connect(dsn)
    if shape == "wide":
        wide_table.fill_source(conn, rows, DAY)
        conn.close()
        return
    cur = conn.cursor()
    cur.execute(
        "CREATE SCHEMA IF NOT EXISTS app; DROP TABLE IF EXISTS app.sessions; "
        "CREATE TABLE app.sessions (sessionid varchar(32) PRIMARY KEY, userid int, channel varchar(32), ts timestamp);"
        "SELECT setseed(0.7);"
        "INSERT INTO app.sessions SELECT md5('bench:' || i), 1 + floor(random() * greatest(1, %(users)s))::int, "
        "(%(channels)s::text[])[1 + floor(random() * %(channel_count)s)::int], "
        "timestamp %(day)s + random() * interval '86399 seconds' FROM generate_series(0, %(last)s) i;"
        "ANALYZE app.sessions",
        {"users": rows // 4, "channels": list(CHANNELS), "channel_count": len(CHANNELS), "day": DAY, "last": rows - 1},
    )
    conn.commit()
    conn.close()


def _prepare(dsn: str, workdir: Path, rows: int, contenders: list[str], shapes: tuple[str, ...] = ("narrow",)) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    timings = {}
    if set(contenders) & set(LOAD_CONTENDERS):
        started = time.perf_counter()
        original, changed = _rows(rows, False), _rows(rows, True)
        _write_csv(workdir / "sessions.csv", original)
        _write_csv(workdir / "sessions_changed.csv", changed)
        timings["generate_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        _stage(workdir, "stage_v1", original)
        timings["stage_write_seconds"] = time.perf_counter() - started
        _stage(workdir, "stage_v2", changed)
        del original, changed
    if set(contenders) & set(DAY_CONTENDERS):
        for shape in shapes:
            started = time.perf_counter()
            _prepare_source(dsn, rows, shape)
            timings[f"source_seconds_{shape}" if shape != "narrow" else "source_seconds"] = time.perf_counter() - started
    return timings


def _run_contender(name: str, dsn: str, workdir: Path, rows: int, shape: str = "narrow") -> dict:
    _checkpoint(dsn)
    env = {**os.environ, "BENCH_WORKDIR": str(workdir), "BENCH_SHAPE": shape}
    if name in DAY_CONTENDERS:
        env["BENCH_DAY_QUERY"] = _bound_day_query(dsn, shape, workdir)
        env["BENCH_TABLE"] = _table_layout(shape, workdir)
    completed = subprocess.run(
        [sys.executable, "-m", "warehouse_platform.benchmarks.load_benchmark", "--contender", name,
         "--rows", str(rows), "--dsn", dsn, "--workdir", str(workdir)],
        capture_output=True, text=True, env=env,
    )
    if completed.returncode != 0:
        return {"error": completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else "failed"}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _code_location() -> dict:
    """run_code_location, in a process of its own (its peak RSS is the code location's alone)."""
    completed = subprocess.run(
        [sys.executable, "-m", "warehouse_platform.benchmarks.load_benchmark", "--code-location"],
        capture_output=True, text=True,
    )
    if completed.returncode != 0:
        return {"error": completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else "failed"}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def combine_runs(runs: list[dict], rows: int) -> dict:
    """One contender's runs as one figure: the median time with its spread, rows/s at the median,
    the highest peak RSS of the runs, and the last run's other figures (phases, import time).
    A run that failed fails the figure: a median of the runs that happened to work would hide it."""
    failed = [r for r in runs if "error" in r]
    if failed:
        return {"error": failed[0]["error"], "runs": len(runs), "failed_runs": len(failed)}
    seconds = [r["seconds"] for r in runs]
    stats = summarize(seconds)
    combined = {k: v for k, v in runs[-1].items() if k not in ("seconds", "peak_rss_mb", "peak_rss_mb_child")}
    combined.update({
        "seconds": stats["median"], "rows_per_s": round(rows / stats["median"]) if stats["median"] else None,
        "seconds_min": stats["min"], "seconds_max": stats["max"], "spread": stats["spread"], "runs": stats["runs"],
        "samples_s": [round(s, 3) for s in seconds],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
    })
    loaded = [r["phases"]["loaded_at_s"] for r in runs if (r.get("phases") or {}).get("loaded_at_s")]
    if len(loaded) == len(runs):  # the day through its load, before its checks: a median of its own
        combined["loaded_s"] = summarize(loaded)["median"]
    if any("peak_rss_mb_child" in r for r in runs):
        combined["peak_rss_mb_child"] = max(r.get("peak_rss_mb_child", 0) for r in runs)
    return combined


def with_ratios(results: dict, floor: str) -> dict:
    """x_floor on every figure: the floor's median over the contender's, both of this run."""
    base = results.get(floor, {}).get("seconds")
    for r in results.values():
        if base and r.get("seconds"):
            r["x_floor"] = ratio_of_medians(r["seconds"], base)
        if base and r.get("loaded_s"):
            r["x_floor_loaded"] = ratio_of_medians(r["loaded_s"], base)
    return results


def _print_table(rows: int, results: dict, title: str, names: list[str]) -> None:
    present = [n for n in names if n in results]
    if not present:
        return
    print(f"\n{title}\n{'contender':<30}{'median s':>10}{'spread':>8}{'runs':>6}{'rows/s':>12}{'x floor':>9}"
          f"{'peak RSS MB':>13}  note")
    for name in present:
        r = results[name]
        if "error" in r:
            print(f"{name:<30}  failed: {r['error'][:160]}")
            continue
        note = f"extrapolated from {r['extrapolated_from']:,} rows" if "extrapolated_from" in r else ""
        if "peak_rss_mb_child" in r:
            note = "peak RSS of its binary"
        if "phases" in r:
            note = (f"loaded at {r.get('loaded_s', 0):.2f} s (x floor {r.get('x_floor_loaded', 0):.2f}), then checks;"
                    f" imports {r['imports_s']:.2f} s, {r['rss_after_imports_mb']:.0f} MB after them")
        print(f"{name:<30}{r['seconds']:>10.2f}{r['spread']:>8.0%}{r['runs']:>6}{r['rows_per_s']:>12,}"
              f"{r.get('x_floor', 0):>9.2f}{r['peak_rss_mb']:>13.1f}  {note}")


def _print_phases(results: dict, label: str) -> None:
    r = results.get("platform_end_to_end", {})
    if "phases" not in r:
        return
    p = r["phases"]
    steps = ", ".join(f"{k} {v:.2f}" for k, v in p["steps_s"].items())
    print(f"  where platform_end_to_end's time went ({label}, last run): before RUN_START {p['before_run_start_s']:.2f} s;"
          f" steps: {steps}; between steps {p['between_steps_s']:.2f} s; last step -> run end {p['after_last_step_s']:.2f} s;"
          f" run end -> return {p['after_run_end_s']:.2f} s; loaded at {p['loaded_at_s']:.2f} s, checks' steps"
          f" {p['checks_s']:.2f} s, last check at {p['last_check_at_s'] or 0:.2f} s")


def _print_scaling(scaling: list[dict]) -> None:
    print(f"\nplatform_end_to_end by day size\n{'rows':>12}{'median s':>10}{'spread':>8}{'rows/s':>14}{'peak RSS MB':>14}")
    for r in scaling:
        if "error" in r:
            print(f"{r['rows']:>12,}  failed: {r['error'][:160]}")
        else:
            print(f"{r['rows']:>12,}{r['seconds']:>10.2f}{r['spread']:>8.0%}{r['rows_per_s']:>14,}{r['peak_rss_mb']:>14.1f}")


def _print_code_location(figures: dict) -> None:
    if "error" in figures:
        print(f"\ncode location: failed: {figures['error'][:160]}")
        return
    print(f"\ncode location (its own process): import {figures['import_s']:.2f} s, {figures['rss_after_import_mb']:.0f} MB;"
          f" build_definitions {figures['build_definitions_s']:.2f} s ({figures['assets']} assets);"
          f" peak RSS {figures['peak_rss_mb']:.0f} MB; heavy libraries imported: {', '.join(figures['imported_on_import']) or 'none'}")


def _fresh_database():
    from warehouse_platform import settings
    from warehouse_platform.postgres_endpoint import start_embedded_postgres

    endpoint = start_embedded_postgres(settings.embedded_postgres_dir()).with_database("benchmark")
    admin = endpoint.with_database("postgres").connect()
    admin.autocommit = True
    admin.cursor().execute("DROP DATABASE IF EXISTS benchmark WITH (FORCE)")
    admin.close()
    endpoint.ensure_database()
    return f"host={endpoint.host} port={endpoint.port} user={endpoint.user} dbname={endpoint.dbname}"


def _machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown")
    return {"cpu": model, "cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def _rounds(names: list[str], dsn: str, workdir: Path, rows: int, repeats: int, shape: str) -> dict:
    """Every contender `repeats` times, in rounds (each contender once, then again)."""
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for round_number in range(1, repeats + 1):
        for name in names:
            print(f"running {name} ({shape}, run {round_number} of {repeats}) ...", flush=True)
            runs[name].append(_run_contender(name, dsn, workdir, rows, shape))
    return {name: combine_runs(r, rows) for name, r in runs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--contender", choices=ORDER)
    parser.add_argument("--code-location", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="*", choices=ORDER, help="run a subset of contenders")
    parser.add_argument("--shapes", nargs="*", choices=SHAPES, default=list(SHAPES),
                        help="the whole day's tables (default both: narrow and wide)")
    parser.add_argument("--repeats", type=int, help="runs of each contender (default 3; 1 for --scaling)")
    parser.add_argument("--scaling", nargs="*", type=int, metavar="ROWS",
                        help=f"platform_end_to_end alone at each day size (default {', '.join(map(str, SCALING_ROWS))})")
    parser.add_argument("--dsn")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)

    if args.contender or args.code_location:  # child process
        outcome = run_code_location() if args.code_location else globals()[f"run_{args.contender}"](
            args.dsn, args.workdir, args.rows)
        # A contender that runs a binary (sling) peaks in that child process.
        outcome["peak_rss_mb"] = max(_peak_rss_mb(), outcome.get("peak_rss_mb_child", 0))
        print(json.dumps(outcome))
        return 0

    from warehouse_platform import settings
    from warehouse_platform.instance.config import prepare_dagster_home

    prepare_dagster_home()  # DAGSTER_HOME for the children: the platform's instance (platform_end_to_end)
    workdir = args.workdir or settings.state_dir() / "benchmark"
    output = args.output or settings.state_dir() / "bench.json"
    sections: dict = {"machine": {**_machine(), "at_start": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}}

    if args.scaling is not None:
        repeats = args.repeats or 1
        scaling = []
        for rows in args.scaling or SCALING_ROWS:
            dsn = _fresh_database()
            print(f"preparing {rows:,} rows ...", flush=True)
            _prepare(dsn, workdir, rows, ["platform_end_to_end"])
            scaling.append({"rows": rows, **_rounds(["platform_end_to_end"], dsn, workdir, rows, repeats, "narrow")[
                "platform_end_to_end"]})
        sections["scaling"] = {"platform_end_to_end": scaling, "repeats": repeats, "source_cache": SOURCE_CACHE}
        _print_scaling(scaling)
    else:
        repeats = args.repeats or 3
        contenders = args.only or ORDER
        print("measuring the code location ...", flush=True)
        sections["code_location"] = _code_location()
        dsn = _fresh_database()
        shapes = tuple(args.shapes) if set(contenders) & set(DAY_CONTENDERS) else ()
        print(f"preparing {args.rows:,} rows in {workdir} ...", flush=True)
        prepared = _prepare(dsn, workdir, args.rows, contenders, shapes)
        load_names = [n for n in contenders if n in LOAD_CONTENDERS]
        day_names = [n for n in contenders if n in DAY_CONTENDERS]
        results = with_ratios(_rounds(load_names, dsn, workdir, args.rows, repeats, "narrow"), "copy_floor")
        narrow_day = {}
        if "narrow" in shapes:
            narrow_day = with_ratios(_rounds(day_names, dsn, workdir, args.rows, repeats, "narrow"), "pipe_floor")
        results.update(narrow_day)
        earlier = json.loads(output.read_text()) if output.exists() else {}
        if args.only and earlier.get("rows") == args.rows:  # a subset re-run keeps the other contenders' figures
            results = {**earlier.get("results", {}), **results}
        sections.update({"rows": args.rows, "repeats": repeats, "source_cache": SOURCE_CACHE, "results": results,
                         "preparation": {k: round(v, 2) for k, v in prepared.items()}})
        if "wide" in shapes:
            wide = with_ratios(_rounds(day_names, dsn, workdir, args.rows, repeats, "wide"), "pipe_floor")
            if args.only and earlier.get("rows") == args.rows:
                wide = {**earlier.get("results_wide", {}), **wide}
            sections["results_wide"] = wide
        print(f"\n{args.rows:,} rows a day, embedded PostgreSQL, {os.cpu_count()} cores; each figure the median of"
              f" {repeats} runs, each in its own process; source cache {SOURCE_CACHE.split(':')[0]}")
        _print_table(args.rows, results, "stage -> warehouse (sessions)", LOAD_CONTENDERS)
        _print_table(args.rows, results, "application database -> warehouse, one day: narrow (sessions: 3 columns)",
                     DAY_CONTENDERS)
        _print_phases(results, "narrow")
        if "results_wide" in sections:
            _print_table(args.rows, sections["results_wide"],
                         "application database -> warehouse, one day: wide (orders: 20 typed columns)", DAY_CONTENDERS)
            _print_phases(sections["results_wide"], "wide")
        _print_code_location(sections["code_location"])
    sections["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_sections(output, sections)
    print(f"\nwritten to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
