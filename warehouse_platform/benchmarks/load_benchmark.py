"""Load benchmark (not a test): the platform's stage -> warehouse path against the floor and
the usual alternatives, in one run, on the same data and the same embedded Postgres.

    make bench                 # 2,000,000 rows
    make bench ROWS=1000000

Contenders, each in its own process so its peak RSS is its own:
  copy_floor           bare COPY FROM STDIN of the uncompressed CSV into an identical table
  platform_load        the platform's load of the same rows as a new day (staged gzip parts
                       + manifest -> raw_data.user_session_channel; dedupe, ledger, checks)
  platform_upsert      the same day again with 50% of rows changed, mode upsert
  handwritten_upsert   the usual hand-written staging upsert of those changed rows: COPY into a
                       temp table, DELETE ... USING, INSERT, one transaction
  pandas_to_sql        DataFrame.to_sql(method="multi"), what people write by hand (on a subset)
  dlt                  dlt, Arrow input, append
  dlt_merge            dlt, the changed rows merged on sessionid
  platform_end_to_end  application database -> stage -> warehouse, through Dagster
Writes .platform/bench.json.
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
ORDER = [
    "copy_floor", "platform_load", "platform_upsert", "handwritten_upsert",
    "pandas_to_sql", "dlt", "dlt_merge", "platform_end_to_end",
]


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
    from warehouse_platform.lib.row_batches import RowBatches
    from warehouse_platform.stage.batch_writer import write_staged_batch
    from warehouse_platform.stage.storage import LocalFolderStage

    spec = table("user_session_channel")

    batches = (rows[i : i + 50_000] for i in range(0, len(rows), 50_000))
    write_staged_batch(
        LocalFolderStage(root=str(workdir / name)), f"raw_data/user_session_channel/day={DAY}", spec.qualified_name, DAY,
        RowBatches(COLUMNS, batches, spec.text_column_names, spec.primary_key), slice_count=4,
    )


def _load_batch(workdir: Path, name: str):
    from warehouse_platform.lib.staged_files import StagedBatch
    from warehouse_platform.stage.storage import LocalFolderStage

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
    from warehouse_platform.lib.table_spec import LoadMode
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
    started = time.perf_counter()
    with dg.instance_for_test() as instance:
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
    assert result.success
    return {"seconds": time.perf_counter() - started}


# --- orchestration ------------------------------------------------------------------------


def _prepare(dsn: str, workdir: Path, rows: int) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    timings = {}
    started = time.perf_counter()
    original, changed = _rows(rows, False), _rows(rows, True)
    _write_csv(workdir / "sessions.csv", original)
    _write_csv(workdir / "sessions_changed.csv", changed)
    timings["generate_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    _stage(workdir, "stage_v1", original)
    timings["stage_write_seconds"] = time.perf_counter() - started
    _stage(workdir, "stage_v2", changed)
    # The application's table for the end-to-end contender: the same rows as one day of sessions.
    conn = _connect(dsn)
    cur = conn.cursor()
    cur.execute(
        "CREATE SCHEMA IF NOT EXISTS app; DROP TABLE IF EXISTS app.sessions; "
        "CREATE TABLE app.sessions (sessionid varchar(32) PRIMARY KEY, userid int, channel varchar(32), ts timestamp)"
    )
    with open(workdir / "sessions.csv") as f:
        next(f)
        cur.copy_expert(
            "COPY app.sessions (userid, sessionid, channel) FROM STDIN WITH (FORMAT csv)", f, size=1 << 20
        )
    cur.execute(f"UPDATE app.sessions SET ts = timestamp '{DAY}' + (random() * interval '86399 seconds')")
    conn.commit()
    conn.close()
    return timings


def _run_contender(name: str, dsn: str, workdir: Path, rows: int) -> dict:
    _checkpoint(dsn)
    env = {**os.environ, "BENCH_WORKDIR": str(workdir)}
    completed = subprocess.run(
        [sys.executable, "-m", "warehouse_platform.benchmarks.load_benchmark", "--contender", name,
         "--rows", str(rows), "--dsn", dsn, "--workdir", str(workdir)],
        capture_output=True, text=True, env=env,
    )
    if completed.returncode != 0:
        return {"error": completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else "failed"}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _print_table(result: dict) -> None:
    rows, results = result["rows"], result["results"]
    floor = results["copy_floor"].get("rows_per_s")
    print(f"\n{rows:,} rows of sessions (userid, sessionid, channel), embedded PostgreSQL, {os.cpu_count()} cores\n")
    print(f"{'contender':<22}{'seconds':>10}{'rows/s':>14}{'x floor':>10}{'peak RSS MB':>14}  note")
    for name in [n for n in ORDER if n in results]:
        r = results[name]
        if "error" in r:
            print(f"{name:<22}  failed: {r['error']}")
            continue
        ratio = f"{r['rows_per_s'] / floor:.2f}" if floor else "-"
        note = f"extrapolated from {r['extrapolated_from']:,} rows" if "extrapolated_from" in r else ""
        print(f"{name:<22}{r['seconds']:>10.2f}{r['rows_per_s']:>14,.0f}{ratio:>10}{r['peak_rss_mb']:>14.1f}  {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--contender", choices=ORDER)
    parser.add_argument("--only", nargs="*", choices=ORDER, help="run a subset of contenders")
    parser.add_argument("--dsn")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)

    if args.contender:  # child process
        outcome = globals()[f"run_{args.contender}"](args.dsn, args.workdir, args.rows)
        outcome["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(outcome))
        return 0

    from warehouse_platform import environment
    from warehouse_platform.postgres_endpoint import start_embedded_postgres

    endpoint = start_embedded_postgres(environment.embedded_postgres_dir()).with_database("benchmark")
    admin = endpoint.with_database("postgres").connect()
    admin.autocommit = True
    admin.cursor().execute("DROP DATABASE IF EXISTS benchmark WITH (FORCE)")
    admin.close()
    endpoint.ensure_database()
    dsn = f"host={endpoint.host} port={endpoint.port} user={endpoint.user} dbname={endpoint.dbname}"
    workdir = args.workdir or environment.state_dir() / "benchmark"
    print(f"preparing {args.rows:,} rows in {workdir} ...", flush=True)
    prepared = _prepare(dsn, workdir, args.rows)

    results: dict[str, dict] = {}
    for name in args.only or ORDER:
        print(f"running {name} ...", flush=True)
        outcome = _run_contender(name, dsn, workdir, args.rows)
        if "seconds" in outcome:
            outcome["seconds"] = round(outcome["seconds"], 3)
            outcome["rows_per_s"] = round(args.rows / outcome["seconds"])
        results[name] = outcome
    report = {"rows": args.rows, "results": results, "preparation": {k: round(v, 2) for k, v in prepared.items()}}
    output = args.output or environment.state_dir() / "bench.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    if "copy_floor" in results:
        _print_table(report)
    print(f"\nwritten to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
