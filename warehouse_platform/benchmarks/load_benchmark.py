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
Writes .platform/bench.json ("results", and "scaling" for make bench-scaling; other keys stay).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

DAY = "2026-11-01"
PANDAS_SUBSET = 20_000
CHANNELS = np.array(["Google", "Facebook", "Naver", "Instagram", "Youtube", "Organic"])
COLUMNS = ("userid", "sessionid", "channel")
LOAD_CONTENDERS = [
    "copy_floor", "platform_load", "platform_upsert", "handwritten_upsert", "pandas_to_sql", "dlt", "dlt_merge",
]
DAY_CONTENDERS = ["pipe_floor", "dlt_sql_database", "dlt_sql_database_connectorx", "sling", "platform_end_to_end"]
ORDER = LOAD_CONTENDERS + DAY_CONTENDERS
SCALING_ROWS = (1_000_000, 2_000_000, 5_000_000, 10_000_000)


def _peak_rss_mb() -> float:
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a child would
    # report the parent's peak from before it was started.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _rows(n: int, changed: bool) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(7)
    users = rng.integers(1, max(2, n // 4), n).astype(str).tolist()
    channels = rng.integers(0, len(CHANNELS), n)
    if changed:  # every other row moves to the next channel
        channels = np.where(np.arange(n) % 2 == 0, (channels + 1) % len(CHANNELS), channels)
    ids = [hashlib.md5(f"bench:{i}".encode()).hexdigest() for i in range(n)]
    return list(zip(users, ids, CHANNELS[channels].tolist()))


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
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.postgres(credentials=credentials),
        dataset_name=name,
        pipelines_dir=str(Path(os.environ["BENCH_WORKDIR"]) / "dlt_pipelines"),
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


def run_platform_end_to_end(dsn: str, workdir: Path, rows: int) -> dict:
    """Source database -> stage -> warehouse for one day, through Dagster, timed as a whole."""
    import dagster as dg

    from warehouse_platform.catalog import table
    from warehouse_platform.extract import assets as extract_assets
    from warehouse_platform.extract.source_database import SourceDatabase
    from warehouse_platform.stage.io_manager import StageIOManager
    from warehouse_platform.stage.storage import LocalFolderStage
    from warehouse_platform.warehouse import assets as warehouse_assets
    from warehouse_platform.warehouse.io_manager import WarehouseIOManager
    from warehouse_platform.warehouse.resources import PostgresWarehouse

    stage = LocalFolderStage(root=str(workdir / "stage_e2e"))
    warehouse = PostgresWarehouse(dsn=dsn)
    tables = [table("user_session_channel")]
    selection = [*extract_assets.build_defs(tables).assets, *warehouse_assets.build_defs(tables).assets]
    selection = [a for a in selection if isinstance(a, dg.AssetsDefinition)]
    # The instance exists before any run in a deployment: it is not part of the day's time.
    with dg.instance_for_test() as instance:
        started = time.perf_counter()
        result = dg.materialize(
            selection, partition_key=DAY, instance=instance,
            resources={
                "source_db": SourceDatabase(dsn=dsn),
                "stage": stage,
                "warehouse": warehouse,
                "stage_io_manager": StageIOManager(stage=stage, slice_count=4),
                "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse, stage=stage),
            },
        )
        seconds = time.perf_counter() - started
    assert result.success
    return {"seconds": seconds}


# --- the whole day: application database -> warehouse ---------------------------------------


def _bound_day_query(dsn: str) -> str:
    """The platform's own extract of the day (sql/extract.py), which every whole-day
    contender reads. Bound in the parent and handed to the children in BENCH_DAY_QUERY, so a
    contender's peak RSS is not the platform's imports."""
    from datetime import datetime, timedelta

    from warehouse_platform.catalog import table
    from warehouse_platform.sql import extract as extract_sql

    start = datetime.fromisoformat(DAY)
    conn = _connect(dsn)
    try:
        return conn.cursor().mogrify(
            extract_sql.extract_sql(table("user_session_channel")), {"day_start": start, "day_end": start + timedelta(days=1)}
        ).decode()
    finally:
        conn.close()


def _fresh_target(dsn: str, name: str) -> None:
    conn = _connect(dsn)
    conn.cursor().execute(
        f"DROP TABLE IF EXISTS public.{name}; "
        f"CREATE TABLE public.{name} (userid int, sessionid varchar(32), channel varchar(32))"
    )
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


def _dlt_sql_database(dsn: str, rows: int, backend: str) -> dict:
    from datetime import datetime, timedelta

    import sqlalchemy as sa
    from dlt.sources.sql_database import sql_table

    start = datetime.fromisoformat(DAY)
    source = sql_table(
        credentials=_sqlalchemy_url(dsn), schema="app", table="sessions", backend=backend,
        # The extract's columns, day and order (what BENCH_DAY_QUERY says in SQL).
        query_adapter_callback=lambda query, table: sa.select(table.c.userid, table.c.sessionid, table.c.channel).where(
            sa.and_(table.c.ts >= start, table.c.ts < start + timedelta(days=1))
        ).order_by(table.c.sessionid),
        **({"backend_kwargs": {"conn": _connectorx_url(dsn)}} if backend == "connectorx" else {}),
    )
    pipeline = _dlt_pipeline(dsn, f"dlt_sql_{backend}")
    started = time.perf_counter()
    info = pipeline.run(source, table_name="sessions", write_disposition="append")
    seconds = time.perf_counter() - started
    info.raise_on_failed_jobs()
    return {"seconds": seconds}


def _connectorx_url(dsn: str) -> str:
    import psycopg2.extensions

    parts = psycopg2.extensions.parse_dsn(dsn)
    return f"postgresql://{parts['user']}@localhost:{parts.get('port', 5432)}/{parts['dbname']}?host={parts['host']}"


def run_dlt_sql_database(dsn: str, workdir: Path, rows: int) -> dict:
    return _dlt_sql_database(dsn, rows, "pyarrow")


def run_dlt_sql_database_connectorx(dsn: str, workdir: Path, rows: int) -> dict:
    return _dlt_sql_database(dsn, rows, "connectorx")


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


# --- orchestration ------------------------------------------------------------------------


def _prepare_source(dsn: str, rows: int) -> None:
    """The application's table: `rows` sessions, all on DAY, generated in the database (a 10M-row
    day would not fit in this process as Python objects). Session ids are the same as the load
    contenders' (md5 of "bench:<i>")."""
    conn = _connect(dsn)
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


def _prepare(dsn: str, workdir: Path, rows: int, contenders: list[str]) -> dict:
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
        started = time.perf_counter()
        _prepare_source(dsn, rows)
        timings["source_seconds"] = time.perf_counter() - started
    return timings


def _run_contender(name: str, dsn: str, workdir: Path, rows: int) -> dict:
    _checkpoint(dsn)
    env = {**os.environ, "BENCH_WORKDIR": str(workdir)}
    if name in DAY_CONTENDERS:
        env["BENCH_DAY_QUERY"] = _bound_day_query(dsn)
    completed = subprocess.run(
        [sys.executable, "-m", "warehouse_platform.benchmarks.load_benchmark", "--contender", name,
         "--rows", str(rows), "--dsn", dsn, "--workdir", str(workdir)],
        capture_output=True, text=True, env=env,
    )
    if completed.returncode != 0:
        return {"error": completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else "failed"}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _print_table(rows: int, results: dict) -> None:
    print(f"\n{rows:,} rows of sessions (userid, sessionid, channel), embedded PostgreSQL, {os.cpu_count()} cores")
    for title, names, floor_name in (
        ("stage -> warehouse", LOAD_CONTENDERS, "copy_floor"),
        ("application database -> warehouse (one day)", DAY_CONTENDERS, "pipe_floor"),
    ):
        present = [n for n in names if n in results]
        if not present:
            continue
        floor = results.get(floor_name, {}).get("rows_per_s")
        print(f"\n{title}\n{'contender':<30}{'seconds':>10}{'rows/s':>14}{'x floor':>10}{'peak RSS MB':>14}  note")
        for name in present:
            r = results[name]
            if "error" in r:
                print(f"{name:<30}  failed: {r['error'][:160]}")
                continue
            ratio = f"{r['rows_per_s'] / floor:.2f}" if floor else "-"
            note = f"extrapolated from {r['extrapolated_from']:,} rows" if "extrapolated_from" in r else ""
            if "peak_rss_mb_child" in r:
                note = "peak RSS of its binary"
            print(f"{name:<30}{r['seconds']:>10.2f}{r['rows_per_s']:>14,.0f}{ratio:>10}{r['peak_rss_mb']:>14.1f}  {note}")


def _print_scaling(scaling: list[dict]) -> None:
    print(f"\nplatform_end_to_end by day size\n{'rows':>12}{'seconds':>10}{'rows/s':>14}{'peak RSS MB':>14}")
    for r in scaling:
        if "error" in r:
            print(f"{r['rows']:>12,}  failed: {r['error'][:160]}")
        else:
            print(f"{r['rows']:>12,}{r['seconds']:>10.2f}{r['rows_per_s']:>14,.0f}{r['peak_rss_mb']:>14.1f}")


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


def _timed(name: str, dsn: str, workdir: Path, rows: int) -> dict:
    print(f"running {name} ...", flush=True)
    outcome = _run_contender(name, dsn, workdir, rows)
    if "seconds" in outcome:
        outcome["seconds"] = round(outcome["seconds"], 3)
        outcome["rows_per_s"] = round(rows / outcome["seconds"])
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--contender", choices=ORDER)
    parser.add_argument("--only", nargs="*", choices=ORDER, help="run a subset of contenders")
    parser.add_argument("--scaling", nargs="*", type=int, metavar="ROWS",
                        help=f"platform_end_to_end alone at each day size (default {', '.join(map(str, SCALING_ROWS))})")
    parser.add_argument("--dsn")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)

    if args.contender:  # child process
        outcome = globals()[f"run_{args.contender}"](args.dsn, args.workdir, args.rows)
        # A contender that runs a binary (sling) peaks in that child process.
        outcome["peak_rss_mb"] = max(_peak_rss_mb(), outcome.get("peak_rss_mb_child", 0))
        print(json.dumps(outcome))
        return 0

    from warehouse_platform import settings

    workdir = args.workdir or settings.state_dir() / "benchmark"
    output = args.output or settings.state_dir() / "bench.json"
    # Other tools write their own sections of bench.json (e.g. "logs"): keep them.
    report = json.loads(output.read_text()) if output.exists() else {}

    if args.scaling is not None:
        scaling = []
        for rows in args.scaling or SCALING_ROWS:
            dsn = _fresh_database()
            print(f"preparing {rows:,} rows ...", flush=True)
            _prepare(dsn, workdir, rows, ["platform_end_to_end"])
            scaling.append({"rows": rows, **_timed("platform_end_to_end", dsn, workdir, rows)})
        report["scaling"] = {"platform_end_to_end": scaling}
        _print_scaling(scaling)
    else:
        contenders = args.only or ORDER
        dsn = _fresh_database()
        print(f"preparing {args.rows:,} rows in {workdir} ...", flush=True)
        prepared = _prepare(dsn, workdir, args.rows, contenders)
        results = {name: _timed(name, dsn, workdir, args.rows) for name in contenders}
        if args.only and report.get("rows") == args.rows:
            results = {**report.get("results", {}), **results}
        report.update({"rows": args.rows, "results": results, "preparation": {k: round(v, 2) for k, v in prepared.items()}})
        _print_table(args.rows, results)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
