"""Benchmark (not a test): the structuring step's lines/s against DuckDB's bare read (the floor).

    python -m warehouse_platform.benchmarks.log_benchmark --lines 1000000

On the same files (N lines of app events as JSON lines, N lines of access log): the platform's
structuring step (copy through the Stage resource, DuckDB structuring with rejects, gzip CSV
parts + manifest through the shared stage writer) against DuckDB's bare `read_json` and
`regexp_extract` of the same files into a table. Each contender runs in its own process, so
its peak RSS is its own. Results go under the "logs" key of .platform/bench.json (other keys
are left as they are).
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from warehouse_platform.benchmarks.load_benchmark import _peak_rss_mb
from warehouse_platform.stage.log_structuring import STAGES

CONTENDERS = {
    "app_events": ("structuring", "duckdb_read_json_floor"),
    "access_log": ("structuring", "duckdb_regexp_floor"),
}


def _write_file(name: str, lines: int, workdir: Path) -> Path:
    """One plain file of `name` (app_events or access_log) with `lines` lines, made of the
    generator's day repeated, each repeat varied as real traffic varies: an event keeps its shape
    with another id, an access line another ident field (`-` in the generator's lines). Without
    the ident, every access line would repeat a hundred times in its file, which a real log
    never does, and the step's occurrence count would be measured on that instead."""
    from warehouse_platform.sample_data.log_generator import generate_logs

    logs = generate_logs([date(2026, 11, 3)], malformed=True)
    base: list[str] = []
    for f in logs.files:
        if f"/{name}/" in f.key:
            base += (gzip.decompress(f.data) if f.key.endswith(".gz") else f.data).decode().splitlines()
    path = workdir / "landing" / "logs" / name / "day=2026-11-03" / ("bench.jsonl" if name == "app_events" else "bench.log")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        written, k = 0, 0
        while written < lines:
            for line in base[: lines - written]:
                at = line.find('"event_id":"') + len('"event_id":"')
                if k and name == "app_events" and at >= len('"event_id":"'):
                    line = line[:at] + f"{k:05x}" + line[at + 5:]  # another id of the same shape
                elif k and name == "access_log" and (ident := line.find(" - ")) > 0:
                    line = f"{line[:ident]} i{k:x} {line[ident + 3:]}"
                fh.write(line + "\n")
            written += min(len(base), lines - written)
            k += 1
    return path


def _run_contender(table: str, contender: str, workdir: Path) -> dict:
    import duckdb

    from warehouse_platform.catalog import table as catalog_table
    from warehouse_platform.contract import log_formats
    from warehouse_platform.stage.landed_files import LandedFiles
    from warehouse_platform.stage.log_structuring import structure_landed_logs
    from warehouse_platform.stage.storage import LocalFolderStage

    spec = catalog_table(table)
    [path] = (workdir / "landing" / spec.landing_folder / "day=2026-11-03").iterdir()
    key = path.relative_to(workdir).as_posix()
    started = time.perf_counter()
    stages: dict[str, tuple[float, float]] = {}
    cpu_before = time.process_time()
    if contender == "structuring":
        stage = LocalFolderStage(root=str(workdir))
        batch, summary = structure_landed_logs(
            stage, f"raw_data/{table}/day=2026-11-03/batch=bench", "2026-11-03", LandedFiles(spec, ((key, "bench"),)),
            slice_count=4, timings=stages,
        )
        lines, note = summary.lines_read, f"{batch.row_count:,} rows, {summary.rejected} rejects, {len(batch.parts)} parts"
    else:
        con = duckdb.connect()
        if contender == "duckdb_read_json_floor":
            con.execute(f"CREATE TABLE t AS SELECT * FROM read_json('{path}', format = 'newline_delimited', ignore_errors = true)")
        else:
            names = ", ".join(f"'{f}'" for f in log_formats.COMBINED_LOG_FIELDS)
            con.execute(
                f"CREATE TABLE t AS SELECT regexp_extract(line, '{log_formats.COMBINED_LOG_PATTERN}', [{names}]) AS m FROM "
                f"read_csv('{path}', columns = {{'line': 'VARCHAR'}}, delim = chr(1), quote = '', escape = '', header = false)"
            )
        [(lines,)] = con.execute("SELECT count(*) FROM t").fetchall()
        note = "bare read into a table (no rejects, no line numbers, no staging)"
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_before
    return {"table": table, "contender": contender, "lines": lines, "seconds": round(seconds, 3),
            "lines_per_s": round(lines / seconds), "cpu_seconds": round(cpu_seconds, 3), "peak_rss_mb": _peak_rss_mb(),
            "note": note, "stages": {name: {"seconds": round(stages[name][0], 3), "cpu_seconds": round(stages[name][1], 3)}
                                     for name in STAGES if name in stages}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--contender", nargs=3, metavar=("TABLE", "CONTENDER", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(_run_contender(args.contender[0], args.contender[1], Path(args.contender[2]))))
        return
    from warehouse_platform import settings
    from warehouse_platform.benchmarks.report import write_sections

    results = []
    for table, contenders in CONTENDERS.items():
        # One table's file at a time, removed after it: 10M lines are gigabytes of scratch.
        with tempfile.TemporaryDirectory(prefix="log-bench-") as scratch:
            _write_file(table, args.lines, Path(scratch))
            for contender in contenders:
                done = subprocess.run(
                    [sys.executable, "-m", "warehouse_platform.benchmarks.log_benchmark", "--contender", table, contender, scratch],
                    capture_output=True, text=True,
                )
                if done.returncode != 0:  # a failed contender says why, not only that it failed
                    sys.exit(f"{table} {contender} at {args.lines:,} lines failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for r in results:
        floor = next(x for x in results if x["table"] == r["table"] and x["contender"] != "structuring")
        r["x_floor"] = round(r["lines_per_s"] / floor["lines_per_s"], 2)
        print(f"{r['table']:<11} {r['contender']:<24} {r['lines']:>10,} lines {r['seconds']:>7.2f} s "
              f"{r['lines_per_s']:>10,} lines/s {r['x_floor']:>5.2f}x floor {r['cpu_seconds']:>7.2f} s CPU "
              f"{r['peak_rss_mb']:>7.1f} MB  {r['note']}")
        for name, stage in r["stages"].items():
            print(f"{'':<12}{name:<36} {stage['seconds']:>7.2f} s {stage['cpu_seconds']:>7.2f} s CPU")
    output = args.output or settings.state_dir() / "bench.json"
    # Every size run is kept, so a run at 10M lines is set beside the one at 1M: the scaling rows.
    earlier = json.loads(output.read_text()).get("logs_by_lines", {}) if output.exists() else {}
    by_lines = {**earlier, str(args.lines): results}
    write_sections(output, {"logs": {"lines": args.lines, "results": results}, "logs_by_lines": by_lines})
    _print_scaling(by_lines)


def _print_scaling(by_lines: dict[str, list[dict]]) -> None:
    """Structuring at each size run so far: seconds per million lines (flat when time is linear)
    and peak RSS (flat when memory is bounded)."""
    if len(by_lines) < 2:
        return
    print("scaling (structuring; each size from its own run, see bench.json logs_by_lines)")
    for lines, results in sorted(by_lines.items(), key=lambda item: int(item[0])):
        for r in results:
            if r["contender"] == "structuring":
                per_million = r["seconds"] / (int(lines) / 1_000_000)
                print(f"{r['table']:<11} {int(lines):>12,} lines {r['seconds']:>8.2f} s {per_million:>7.2f} s per 1M lines "
                      f"{r.get('cpu_seconds', float('nan')):>8.2f} s CPU {r['peak_rss_mb']:>7.1f} MB")


if __name__ == "__main__":
    main()
