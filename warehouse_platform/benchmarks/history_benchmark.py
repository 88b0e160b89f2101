"""History benchmark (not a test): years of history backfilled through the platform's real path.

    make bench-history                          # 365 days of 10,000 rows from 2015-01-01
    make bench-history DAYS=31                  # a month

A table declared only in YAML, with `history_start:` on its first day (a catalog of its own,
read by catalog.load_catalog like the shipped one), is read from an application table holding
ROWS_PER_DAY rows a day, and the days are loaded exactly as `warehouse-platform backfill` loads
them: one run of the job `extract_and_load_day` per day (instance/runs.run_code_location_job),
in the platform's Dagster instance, each day extracted by a server-side cursor, staged as gzip
CSV parts + manifest, loaded by COPY into its partition with the ledger and the per-day checks.

It reports the whole backfill's wall time, the time per day (first, median, 95th percentile,
last: whether a day gets slower as the table grows), this process's peak RSS and its resident
memory after the first tenth of the days and at the end (bounded memory: the same after a year
as after a month), and writes them under "history" in .platform/bench.json. The embedded
Postgres server is another process and is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ENTRY = """\
type: warehouse_platform.components.raw_table_catalog.RawTableCatalog
attributes:
  tables:
    - name: rental_history
      description: Rentals, one row per rental, by the day it was rented (benchmark).
      source: {{table: app.rental_history}}
      partitioning: {{daily_by: rented_at}}
      history_start: {first_day}
      columns:
        - {{name: rental_id, type: bigint, nullable: false, description: Rental id.}}
        - {{name: customer_id, type: int, nullable: false, description: Customer.}}
        - {{name: title, type: varchar(64), description: Film title.}}
        - {{name: amount, type: int, description: "Amount paid, minor units."}}
        - {{name: rented_at, type: timestamp, nullable: false, description: When it was rented.}}
      primary_key: [rental_id]
      mode: replace
      distribution: {{style: KEY, key: customer_id, sort_key: [rented_at]}}
"""


def _memory_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _fresh_databases() -> tuple[str, str]:
    from warehouse_platform import settings
    from warehouse_platform.postgres_endpoint import start_embedded_postgres

    server = start_embedded_postgres(settings.embedded_postgres_dir())
    admin = server.with_database("postgres").connect()
    admin.autocommit = True
    dsns = []
    for name in ("history_bench_source", "history_bench_warehouse"):
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        endpoint = server.with_database(name)
        endpoint.ensure_database()
        dsns.append(f"host={endpoint.host} port={endpoint.port} user={endpoint.user} dbname={endpoint.dbname}")
    admin.close()
    return dsns[0], dsns[1]


def _fill_source(dsn: str, first_day: date, days: int, rows_per_day: int) -> None:
    """rows_per_day rentals a day, generated in the database (no Python rows)."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(
            "CREATE SCHEMA IF NOT EXISTS app;"
            "CREATE TABLE app.rental_history (rental_id bigint PRIMARY KEY, customer_id int NOT NULL, title text,"
            " amount int, rented_at timestamp NOT NULL);"
            "SELECT setseed(0.19);"
            "INSERT INTO app.rental_history SELECT i, 1 + floor(random() * 50000)::int, 'Film ' || (i %% 1000),"
            " 99 + floor(random() * 900)::int,"
            " timestamp %(first)s + (i / %(per_day)s) * interval '1 day' + random() * interval '86399 seconds'"
            " FROM generate_series(0, %(last)s) i;"
            "CREATE INDEX ON app.rental_history (rented_at); ANALYZE app.rental_history",
            {"first": first_day.isoformat(), "per_day": rows_per_day, "last": days * rows_per_day - 1},
        )
    conn.close()


def run(first_day: date, days: int, rows_per_day: int) -> dict:
    source_dsn, warehouse_dsn = _fresh_databases()
    print(f"filling the source: {days} days x {rows_per_day:,} rows from {first_day} ...", flush=True)
    started = time.perf_counter()
    _fill_source(source_dsn, first_day, days, rows_per_day)
    fill_seconds = time.perf_counter() - started

    from warehouse_platform import settings

    os.environ.update({
        "PLATFORM_ENV": "local", "PLATFORM_SOURCE_DSN": source_dsn, "PLATFORM_WAREHOUSE_DSN": warehouse_dsn,
        "PLATFORM_STAGE_URL": str(settings.state_dir() / "history_bench_stage"),
    })
    import dagster as dg

    from warehouse_platform import cli, environment
    from warehouse_platform.catalog import load_catalog
    from warehouse_platform.components.raw_table_catalog import build_table_definitions
    from warehouse_platform.instance.runs import run_code_location_job

    with tempfile.TemporaryDirectory() as folder:
        catalog = Path(folder) / "defs.yaml"
        catalog.write_text(ENTRY.format(first_day=first_day.isoformat()))
        tables = load_catalog(catalog)
    # The table's own definitions and the environment's resources (no dbt: history is raw data).
    defs = dg.Definitions.merge(build_table_definitions(tables), dg.Definitions(resources=environment.build_resources()))
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    cli._prepare_dagster_home()
    per_day: list[float] = []
    resident_early = None
    with dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        for i in range(days):
            day = (first_day + timedelta(days=i)).isoformat()
            day_started = time.perf_counter()
            result = run_code_location_job(
                defs, "extract_and_load_day", instance, partition_key=day, run_config=quiet,
                tags={"dagster/backfill": f"bench-history-{first_day}"},
            )
            per_day.append(time.perf_counter() - day_started)
            if not result.success:
                raise SystemExit(f"{day}: the run failed ({result.run_id})")
            if i + 1 == max(1, days // 10):
                resident_early = _memory_mb("VmRSS")
            if (i + 1) % 30 == 0 or i + 1 == days:
                print(f"  {i + 1} days, {time.perf_counter() - started:.0f} s, RSS {_memory_mb('VmRSS')} MB", flush=True)
        seconds = time.perf_counter() - started
    import psycopg2

    conn = psycopg2.connect(warehouse_dsn)
    with conn.cursor() as cur:
        cur.execute('SELECT count(*), count(DISTINCT "_partition_date") FROM raw_data.rental_history')
        rows, loaded_days = cur.fetchone()
    conn.close()
    if rows != days * rows_per_day or loaded_days != days:
        raise SystemExit(f"loaded {rows} rows in {loaded_days} days, expected {days * rows_per_day} in {days}")
    ordered = sorted(per_day)
    return {
        "first_day": first_day.isoformat(), "days": days, "rows_per_day": rows_per_day, "rows": rows,
        "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds),
        "seconds_per_day": {
            "first": round(per_day[0], 2), "median": round(statistics.median(per_day), 2),
            "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2), "last": round(per_day[-1], 2),
        },
        "peak_rss_mb": _memory_mb("VmHWM"), "rss_after_a_tenth_mb": resident_early, "rss_at_end_mb": _memory_mb("VmRSS"),
        "source_fill_seconds": round(fill_seconds, 1), "cores": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first-day", type=date.fromisoformat, default=date(2015, 1, 1))
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rows-per-day", type=int, default=10_000)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)

    from warehouse_platform import settings
    from warehouse_platform.benchmarks.report import write_sections

    outcome = run(args.first_day, args.days, args.rows_per_day)
    print(json.dumps(outcome, indent=2))
    output = args.output or settings.state_dir() / "bench.json"
    write_sections(output, {"history": outcome})
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
