"""Catalog benchmark (not a test): what a large table catalog costs the code location.

    make bench-catalog                          # 200 tables, and 50 and 100 to show how time grows
    python -m warehouse_platform.benchmarks.catalog_benchmark --tables 200 --also 50 100

For each size it writes a scratch dg project (a folder of its own, like a checkout) whose table
catalog is the shipped one plus generated entries up to that many tables (a mix of daily extracted,
whole and landed tables), and whose code location is the platform's own: the same analytics (dbt)
definitions, resources and code references, bound by warehouse_platform.definitions.code_location.
The generated tables are not dbt sources: no model reads them, so the shipped dbt project (whose
sources are the shipped tables, all still in the catalog) is used unchanged and its manifest is not
re-parsed per size; a dbt source nothing reads adds nothing to the code location.

It then times, each in a fresh process:
- building the definitions: importing the code location, building its Definitions, resolving the
  repository and taking its snapshot (what a code server does before it can answer); peak RSS is
  that process's own (`definitions_s`, `definitions_peak_rss_mb`);
- `dg check defs` in the project's root (`dg_check_defs_s`);
- the webserver's first load: `dagster-webserver` on a free loopback port against the project's
  workspace.yaml, until its GraphQL API answers a repository query listing every asset
  (`webserver_load_s`).

Results go under "catalog" in .platform/bench.json (other sections are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from warehouse_platform.benchmarks.report import write_sections
from warehouse_platform.catalog import CATALOG_PATH
from warehouse_platform.instance.processes import stop_process_group

CATALOG_TYPE = "warehouse_platform.components.raw_table_catalog.RawTableCatalog"
MODULE = "catalog_bench"

# One generated table of each kind; {n} is its number. Columns of several types, each described,
# as a real entry would be; names stay short (derived names fit 63 bytes without hashing).
DAILY = """\
    - name: bench_daily_{n:03d}
      description: Generated daily table {n} (catalog benchmark). One row per order line.
      owners: [team:data]
      source: {{table: app.bench_daily_{n:03d}}}
      partitioning: {{daily_by: created_at}}
      columns:
        - {{name: id, type: bigint, nullable: false, encoding: az64, description: Row id.}}
        - {{name: account_id, type: int, nullable: false, encoding: az64, description: Account.}}
        - {{name: status, type: varchar(16), encoding: bytedict, description: Status.}}
        - {{name: amount, type: "numeric(12,2)", description: Amount.}}
        - {{name: note, type: varchar(256), encoding: zstd, description: Free text.}}
        - {{name: created_at, type: timestamp, nullable: false, encoding: az64, description: When it was made.}}
      primary_key: [id]
      mode: replace
      dedupe_order: [created_at desc]
      distribution: {{style: KEY, key: account_id, sort_key: [created_at], join_columns: [account_id]}}
"""
WHOLE = """\
    - name: bench_whole_{n:03d}
      description: Generated whole table {n} (catalog benchmark). One row per account.
      owners: [team:data]
      source: {{table: app.bench_whole_{n:03d}}}
      partitioning: whole_table
      columns:
        - {{name: account_id, type: int, nullable: false, encoding: az64, description: Account.}}
        - {{name: name, type: varchar(128), encoding: zstd, description: Name.}}
        - {{name: country, type: varchar(8), encoding: bytedict, description: Country.}}
        - {{name: active, type: boolean, description: Whether it is active.}}
        - {{name: updated_at, type: timestamp, nullable: false, encoding: az64, description: Last change.}}
      primary_key: [account_id]
{load}      distribution: {{style: ALL}}
"""
# Every other whole table is incremental, as a table of users updated in place would be.
WHOLE_REPLACED = "      mode: replace\n"
WHOLE_INCREMENTAL = (
    "      mode: upsert\n      dedupe_order: [updated_at desc]\n      incremental: {cursor: updated_at, lookback_days: 2}\n"
)
LANDED = """\
    - name: bench_landed_{n:03d}
      description: Generated landed table {n} (catalog benchmark). Files dropped by another system, one row per event.
      owners: [team:data]
      rows_from: landing
      partitioning: daily
      columns:
        - {{name: event_id, type: varchar(36), nullable: false, encoding: zstd, description: Event id.}}
        - {{name: account_id, type: int, encoding: az64, description: Account.}}
        - {{name: kind, type: varchar(32), encoding: bytedict, description: Event kind.}}
        - {{name: happened_at, type: timestamp, nullable: false, encoding: az64, description: When it happened.}}
      primary_key: [event_id]
      mode: replace
      distribution: {{style: EVEN, sort_key: [happened_at]}}
"""
# Of every four generated tables: two daily extracted, one whole, one landed.
KINDS = ("daily", "daily", "whole", "landed")


def generated_kinds(tables: int) -> list[str]:
    """The kinds of the tables generated beside the shipped ones, in catalog order."""
    shipped = shipped_table_count()
    if tables < shipped:
        raise ValueError(f"a generated catalog holds the {shipped} shipped tables and more; {tables} asked")
    return [KINDS[i % len(KINDS)] for i in range(tables - shipped)]


def shipped_table_count() -> int:
    return CATALOG_PATH.read_text().count("\n    - name: ")


def catalog_yaml(tables: int) -> str:
    """The shipped catalog (its text, comments and all) followed by generated entries, `tables`
    in all. The shipped tables stay so that the dbt project's sources are all declared."""
    entries = []
    for n, kind in enumerate(generated_kinds(tables), start=1):
        if kind == "daily":
            entries.append(DAILY.format(n=n))
        elif kind == "whole":
            entries.append(WHOLE.format(n=n, load=WHOLE_INCREMENTAL if n % 2 else WHOLE_REPLACED))
        else:
            entries.append(LANDED.format(n=n))
    shipped = CATALOG_PATH.read_text().rstrip("\n") + "\n"
    return shipped + "".join("\n" + entry for entry in entries)


DEFINITIONS_PY = '''\
"""The platform's code location with this folder's table catalog (catalog benchmark)."""

from pathlib import Path

import dagster as dg

from warehouse_platform.definitions import code_location


@dg.definitions
def defs() -> dg.Definitions:
    return code_location(dg.load_from_defs_folder(path_within_project=Path(__file__).parent))
'''

ANALYTICS_PY = '''\
"""The platform's analytics (dbt) definitions, unchanged."""

import dagster as dg

from warehouse_platform.defs.analytics.defs import analytics_definitions


@dg.definitions
def defs() -> dg.Definitions:
    return analytics_definitions()
'''


def write_project(root: Path, tables: int) -> Path:
    """A dg project in `root` serving the platform's code location with a catalog of `tables`
    tables; returns root. Its root module is `catalog_bench` (root must be on sys.path)."""
    package = root / MODULE
    (package / "defs" / "raw_data").mkdir(parents=True)
    (package / "defs" / "analytics").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "defs" / "raw_data" / "defs.yaml").write_text(catalog_yaml(tables))
    (package / "defs" / "analytics" / "defs.py").write_text(ANALYTICS_PY)
    (package / "definitions.py").write_text(DEFINITIONS_PY)
    (root / "dagster_home").mkdir()  # its own instance (an empty dagster.yaml: defaults), for dg and the webserver
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "{MODULE}"\nversion = "0"\n\n[tool.dg]\ndirectory_type = "project"\n\n'
        f'[tool.dg.project]\nroot_module = "{MODULE}"\ncode_location_name = "{MODULE}"\n'
        'registry_modules = ["warehouse_platform.components.*"]\n'
    )
    (root / "workspace.yaml").write_text(
        f"load_from:\n  - python_module:\n      module_name: {MODULE}.definitions\n"
        f"      location_name: {MODULE}\n      working_directory: {root}\n"
    )
    return root


# Run in a fresh interpreter: imports, builds and snapshots the code location, prints figures.
CHILD = """\
import json, resource, sys, time
started = time.perf_counter()
import dagster as dg
from dagster._core.remote_representation.external_data import RepositorySnap
imported_dagster = time.perf_counter()
from catalog_bench.definitions import defs
imported = time.perf_counter()
definitions = defs()
built = time.perf_counter()
repository = definitions.get_repository_def()
snap = RepositorySnap.from_def(repository)
snapped = time.perf_counter()
print(json.dumps({
    "definitions_s": round(snapped - started, 2),
    "import_dagster_s": round(imported_dagster - started, 2),
    "import_code_location_s": round(imported - imported_dagster, 2),
    "build_s": round(built - imported, 2),
    "snapshot_s": round(snapped - built, 2),
    "definitions_cpu_s": round(resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime, 2),
    "definitions_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "assets": len(snap.asset_nodes),
    "asset_checks": len(snap.asset_check_nodes or []),
}))
"""


def _env(root: Path) -> dict[str, str]:
    from warehouse_platform.settings import PROJECT_ROOT

    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]),
        "DAGSTER_HOME": str(root / "dagster_home"),
    }


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def measure_definitions(root: Path, profile: Path | None = None) -> dict:
    script = root / "build_definitions.py"
    script.write_text(CHILD)
    command = [sys.executable, str(script)]
    if profile is not None:  # the same code under cProfile, its stats written to `profile`
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), str(script)]
    result = subprocess.run(command, cwd=root, env=_env(root), capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"building the definitions failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _children_cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def measure_dg_check_defs(root: Path) -> dict:
    """Wall and CPU seconds of `dg check defs` (CPU: it and the processes it waited for)."""
    cpu, started = _children_cpu_s(), time.perf_counter()
    result = subprocess.run([_bin("dg"), "check", "defs"], cwd=root, env=_env(root), capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"dg check defs failed:\n{(result.stdout + result.stderr)[-4000:]}")
    return {"dg_check_defs_s": round(seconds, 2), "dg_check_defs_cpu_s": round(_children_cpu_s() - cpu, 2)}


ASSETS_QUERY = """{ repositoriesOrError { __typename ... on RepositoryConnection { nodes { name assetNodes { id } } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assets_listed(port: int) -> int | None:
    """How many assets the webserver's repository lists, or None while it cannot answer."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": ASSETS_QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except OSError:
        return None
    repositories = answer.get("data", {}).get("repositoriesOrError", {})
    nodes = repositories.get("nodes") or []
    return sum(len(node["assetNodes"]) for node in nodes) if nodes else None


def measure_webserver_load(root: Path, assets: int, timeout: float = 600) -> float:
    """Seconds from starting dagster-webserver until GraphQL lists all `assets`."""
    port = _free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(root / "workspace.yaml")],
        cwd=root, env=_env(root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        while time.perf_counter() - started < timeout:
            if server.poll() is not None:
                raise SystemExit(f"dagster-webserver exited ({server.returncode}) before answering")
            if _assets_listed(port) == assets:
                return round(time.perf_counter() - started, 2)
            time.sleep(0.2)
        raise SystemExit(f"dagster-webserver did not list {assets} assets within {timeout} s")
    finally:
        stop_process_group(server)


def measure(tables: int, workdir: Path, profile: Path | None = None) -> dict:
    root = write_project(Path(tempfile.mkdtemp(prefix=f"catalog{tables}_", dir=workdir)), tables)
    kinds = generated_kinds(tables)
    print(f"{tables} tables ({shipped_table_count()} shipped, {kinds.count('daily')} daily, "
          f"{kinds.count('whole')} whole, {kinds.count('landed')} landed generated) in {root} ...", flush=True)
    figures = measure_definitions(root)
    if profile is not None:
        measure_definitions(root, profile)
    figures.update(measure_dg_check_defs(root))
    figures["webserver_load_s"] = measure_webserver_load(root, figures["assets"])
    return {"tables": tables, **figures}


def _print(rows: list[dict]) -> None:
    print(f"\n{'tables':>6} {'assets':>6} {'checks':>6} {'definitions s (CPU s)':>21} {'peak RSS MB':>11} "
          f"{'dg check defs s (CPU s)':>23} {'webserver s':>11}")
    for r in rows:
        definitions = f"{r['definitions_s']:.2f} ({r['definitions_cpu_s']:.2f})"
        check = f"{r['dg_check_defs_s']:.2f} ({r['dg_check_defs_cpu_s']:.2f})"
        print(f"{r['tables']:>6} {r['assets']:>6} {r['asset_checks']:>6} {definitions:>21} "
              f"{r['definitions_peak_rss_mb']:>11.0f} {check:>23} {r['webserver_load_s']:>11.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--also", type=int, nargs="*", default=[50, 100], help="smaller catalogs, to show how time grows")
    parser.add_argument("--profile", type=Path, help="also write cProfile stats of building the largest catalog here")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)

    from warehouse_platform import settings

    workdir = args.workdir or settings.state_dir() / "catalog_benchmark"
    workdir.mkdir(parents=True, exist_ok=True)
    rows = [measure(n, workdir) for n in sorted(set(args.also) - {args.tables})]
    rows.append(measure(args.tables, workdir, args.profile))
    _print(rows)
    load = os.getloadavg()
    outcome = {**rows[-1], "by_size": rows, "load_average": [round(x, 2) for x in load], "cores": os.cpu_count()}
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    output = args.output or settings.state_dir() / "bench.json"
    write_sections(output, {"catalog": outcome})
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
