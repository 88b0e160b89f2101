"""Command line: `warehouse-platform demo | seed | load | backfill | build-analytics | check | dev | dagster-home |
instance-config | stop | catalog`.

Every command that runs jobs exits 1 when a run fails or an ERROR-severity check fails, after
printing one line per failure (`failed <asset key>:<check> <day>: <description>` for a check);
2 on a usage error (an unknown table, days for a whole table); 0 otherwise.

`demo` runs the whole graph on the embedded default and prints (and writes as JSON) what it
loaded and what the checks found. Its runs, and the backfill's, are runs of the code location's
jobs in the project's Dagster instance (instance/runs.py), so `make dev` lists them under their
jobs afterwards. `dev` starts the UI (`dg dev`) on that same instance.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, timedelta
from pathlib import Path

from warehouse_platform import chosen_features  # noqa: F401  (its warning filters, for every command)
from warehouse_platform.conventions import check_names

# The demo's second pass: the application runs this many days more, and refunds of the first
# pass's purchases arrive in them.
DEMO_LATER_DAYS = 5


def _prepare_dagster_home() -> Path:
    from warehouse_platform.instance.config import prepare_dagster_home

    return prepare_dagster_home()


def _fail_runs_of_dead_cli_processes(instance) -> None:
    """The runs an earlier CLI process left in progress when it died: no daemon watches a CLI
    run, so this start reports them failed and says so."""
    from warehouse_platform.instance.runs import fail_runs_of_dead_cli_processes

    for line in fail_runs_of_dead_cli_processes(instance):
        print(line)


def seed(first_day: date, days: int, scale: float, skewed: bool, as_of: date | None = None) -> dict[str, int]:
    """The application's tables for `days` days from `first_day`, as they are at the end of
    `as_of` (default: the last day): later refunds and user changes are not there yet."""
    from warehouse_platform import environment
    from warehouse_platform.sample_data.session_generator import GeneratorConfig, days_between
    from warehouse_platform.sample_data.source_seed import seed_source_database

    # Outside a run, EnvVar-bound fields are resolved by initializing the resource.
    endpoint = environment.build_source_database().process_config_and_initialize().endpoint()
    return seed_source_database(
        endpoint, days_between(first_day, first_day + timedelta(days=days - 1)), GeneratorConfig(scale=scale, skewed=skewed),
        as_of=as_of,
    )


def _refunds_and_revenue(warehouse, first_day: date, last_day: date) -> dict:
    """Refunds raw_data holds and analytics revenue, for the sessions of the first pass's days."""
    [(refunds, refunded_amount)] = warehouse.query(
        "SELECT coalesce(sum(CASE WHEN t.refunded THEN 1 ELSE 0 END), 0), "
        "coalesce(sum(CASE WHEN t.refunded THEN t.amount ELSE 0 END), 0) "
        "FROM raw_data.session_transaction t JOIN raw_data.session_timestamp s ON s.sessionid = t.sessionid "
        "WHERE s.ts >= %(start)s AND s.ts < %(end)s",
        {"start": first_day, "end": last_day + timedelta(days=1)},
    )
    [(net,)] = warehouse.query(
        "SELECT coalesce(sum(CASE WHEN refunded THEN 0 ELSE amount END), 0) FROM analytics.session_summary "
        "WHERE session_date BETWEEN %(start)s AND %(end)s", {"start": first_day, "end": last_day},
    )
    return {"refunded_purchases": int(refunds), "refunded_amount": int(refunded_amount), "net_revenue": int(net)}


def _source_net_revenue(first_day: date, last_day: date, as_of: date, scale: float, skewed: bool) -> int:
    """The same figure from the generator's truth as of `as_of`, not from any table."""
    from warehouse_platform.sample_data.session_generator import (
        GeneratorConfig,
        days_between,
        generate_day,
        transactions_as_of,
    )

    config = GeneratorConfig(scale=scale, skewed=skewed)
    return sum(
        t.amount for day in days_between(first_day, last_day)
        for t in transactions_as_of(generate_day(day, config), as_of) if not t.refunded
    )


def _deletes_reached(warehouse, first_day: date, last_day: date, as_of: date, scale: float, skewed: bool) -> dict:
    """What the application deleted outright between the first pass and `as_of` (from the
    generator's truth, not from any table), and how much of it raw_data still holds."""
    from warehouse_platform.sample_data.session_generator import (
        GeneratorConfig,
        days_between,
        end_of,
        generate_day,
        users_as_of,
    )

    config = GeneratorConfig(scale=scale, skewed=skewed)
    purged = [
        sid for day in days_between(first_day, last_day)
        for sid, at in zip(generate_day(day, config).txn_sessionid, generate_day(day, config).txn_deleted_at)
        if at is not None and end_of(last_day) <= at < end_of(as_of)
    ]
    erased = sorted({u.userid for u in users_as_of(last_day, config)} - {u.userid for u in users_as_of(as_of, config)})
    [(purged_held,)] = warehouse.query(
        "SELECT count(*) FROM raw_data.session_transaction WHERE sessionid = ANY(%(keys)s)", {"keys": purged})
    [(erased_held,)] = warehouse.query("SELECT count(*) FROM raw_data.users WHERE userid = ANY(%(keys)s)", {"keys": erased})
    return {"purchases_purged": len(purged), "purged_still_in_raw_data": purged_held,
            "users_erased": len(erased), "erased_still_in_raw_data": erased_held}


def _load_summary(result) -> list[str]:
    """'raw_data.session_timestamp +1,857 rows' or '... already loaded' per raw table of a run."""
    from warehouse_platform.warehouse.loader import NOTHING_IN_THE_SOURCE, NOTHING_IN_THE_SOURCE_TABLE

    lines = []
    for event in result.get_asset_materialization_events():
        meta = event.materialization.metadata
        if "already_loaded" not in meta:
            continue
        table = ".".join(event.asset_key.path)
        if "outcome" in meta and meta["outcome"].value in (NOTHING_IN_THE_SOURCE, NOTHING_IN_THE_SOURCE_TABLE):
            # An empty day is not "already loaded".
            lines.append(f"{table} {meta['outcome'].value}" + (f" (row_volume: {meta['row_volume'].value})" if "row_volume" in meta else ""))
        else:
            lines.append(f"{table} already loaded" if meta["already_loaded"].value else f"{table} +{meta['rows_loaded'].value:,} rows")
    return lines


def demo_first_day() -> date:
    """The demo and the generator start on the first day every daily table's history has begun
    (the latest `history_start`, contract/history.py), so each demo day's run loads every table.
    With the shipped catalog that is also the first partition: no empty days before the data."""
    return max((spec.history_start for spec in _catalog() if spec.partitioned), default=None) or date.today()


def _loaded_through(warehouse) -> date:
    """The newest day any daily raw table holds (the first demo day's eve if none)."""
    newest = demo_first_day() - timedelta(days=1)
    for spec in _catalog():
        if spec.partitioned and warehouse.table_exists(spec):
            [(day,)] = warehouse.query(f'SELECT max("_partition_date") FROM "{spec.schema}"."{spec.name}"')
            newest = max(newest, day or newest)
    return newest


def _catalog():
    from warehouse_platform.catalog import load_catalog

    return load_catalog()


def _check_status(evaluation) -> str:
    import dagster as dg

    if evaluation.passed:
        return "passed"
    return "warning" if evaluation.severity == dg.AssetCheckSeverity.WARN else "failed"


def tick_and_run(defs, instance, sensor_name: str, resources: dict) -> tuple[list, list]:
    """One tick of a sensor against the instance, and the runs it requests, run as the daemon
    would (partition, selection, config, run key) and recorded as the daemon's are: runs of the
    sensor's job in the code location, so the UI lists them under that job and on its timeline
    (the landing sensor targets assets: Dagster's asset job). Returns (the requests, their results)."""
    import dagster as dg

    from warehouse_platform.instance.runs import run_code_location_job

    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        tick = defs.resolve_sensor_def(sensor_name)(context)
    requests = list(tick.run_requests) if isinstance(tick, dg.SensorResult) else []
    job_name = defs.resolve_implicit_global_asset_job_def().name
    results = [
        run_code_location_job(
            defs, request.job_name or job_name, instance, partition_key=request.partition_key,
            asset_selection=None if request.asset_selection is None else set(request.asset_selection),
            run_config={**request.run_config, "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            tags={**request.tags, "dagster/run_key": request.run_key},
        )
        for request in requests
    ]
    return requests, results


def land_and_load_logs(defs, instance, first_day: date, days: int, scale: float) -> list:
    """Drop the generated logs under landing/logs/ in the stage and run what the landing sensor
    requests, as the daemon would: first the files that arrive on their day, then the late one."""
    import tempfile

    from warehouse_platform.sample_data.log_generator import generate_logs
    from warehouse_platform.sample_data.session_generator import GeneratorConfig

    stage = defs.resources["stage"]
    logs = generate_logs([first_day + timedelta(days=i) for i in range(days)], GeneratorConfig(scale=scale))
    results = []
    for wave, files in (("on time", [f for f in logs.files if f.arrives_on == f.day]),
                        ("a day late", [f for f in logs.files if f.arrives_on != f.day])):
        with tempfile.TemporaryDirectory() as scratch:
            for f in files:
                path = Path(scratch) / f.key.replace("/", "_")
                path.write_bytes(f.data)
                stage.put_file(path, f.key)
        requests, ran = tick_and_run(defs, instance, "landing_files", {"stage": stage})
        results.extend(ran)
        print(f"logs landed {wave}: {len(files)} files, {len(requests)} landing runs" + "".join(
            f"\n  {r.dagster_run.tags.get('dagster/partition', '')}: " + ", ".join(_load_summary(r)) for r in results[-len(requests):]
        ) if requests else f"logs landed {wave}: {len(files)} files, nothing new")
    return results


def run_demo(
    first_day: date, days: int, scale: float, report_path: Path, skewed: bool = False, later_days: int = DEMO_LATER_DAYS
) -> dict:
    """First pass: `days` days, the source as of the last of them. Second pass (`later_days` > 0):
    the source runs `later_days` days more, in which refunds of the first pass's purchases
    arrive; loading those days moves each refunded purchase to its refund's day in
    raw_data.session_transaction, and analytics revenue drops by the refunds."""
    _prepare_dagster_home()
    import dagster as dg

    from warehouse_platform import environment
    from warehouse_platform.catalog import load_catalog
    from warehouse_platform.definitions import build_definitions
    from warehouse_platform.instance.runs import run_code_location_job

    defs = build_definitions()
    warehouse = environment.build_warehouse().process_config_and_initialize()
    last_day = first_day + timedelta(days=days - 1)

    source_as_of = last_day
    if _loaded_through(warehouse) > last_day:
        # An earlier demo already loaded the later days. The application's database never goes
        # back in time, so neither does the demo's: it starts from the state it left.
        source_as_of = last_day + timedelta(days=later_days)
        seeded = seed(first_day, days + later_days, scale, skewed=skewed, as_of=source_as_of)
        print(f"the warehouse already holds days after {last_day} (an earlier demo): the source stays as it left it")
    else:
        seeded = seed(first_day, days, scale, skewed=skewed)
    print(
        f"source as of {source_as_of}: {seeded['sessions']} sessions, {seeded['transactions']} transactions "
        f"({seeded['refunded']} refunded), {seeded['users']} users"
    )

    with dg.DagsterInstance.get() as instance:  # entered: see run_backfill
        _fail_runs_of_dead_cli_processes(instance)
        # Step-by-step events stay in the instance (see them with `make dev`); the terminal gets the summary.
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        checks: dict[str, str] = {}
        results = []

        def load_days(first: date, count: int) -> None:
            for offset in range(count):
                day = (first + timedelta(days=offset)).isoformat()
                result = run_code_location_job(defs, "extract_and_load_day", instance, partition_key=day, run_config=quiet)
                results.append(result)
                print(f"{day}: " + ", ".join(_load_summary(result)))
            if any(not s.partitioned and _extracted(s) for s in _catalog()):
                results.append(run_code_location_job(defs, "load_whole_tables", instance, run_config=quiet))
            results.append(run_code_location_job(defs, "build_analytics", instance, run_config=quiet))

        # Application logs: landed for every day, the late file a day later; the landing sensor's
        # runs structure and load them before analytics builds over them.
        results.extend(land_and_load_logs(defs, instance, first_day, days, scale))
        load_days(first_day, days)
        late = None
        if later_days > 0:
            before = _refunds_and_revenue(warehouse, first_day, last_day)
            as_of = last_day + timedelta(days=later_days)
            seeded = seed(first_day, days + later_days, scale, skewed=skewed, as_of=as_of)
            print(
                f"\nsecond pass: the source as of {as_of} ({later_days} days later; refunds of earlier purchases "
                f"arrive with them, each moving its purchase to the refund's day)"
            )
            load_days(last_day + timedelta(days=1), later_days)
            # Purchases the application purged after their day's lookback, and users it erased:
            # the whole users table finds its erased keys on its own load; the daily tables'
            # days that now differ from the source are found by the sensor and read again.
            requests, rereads = tick_and_run(defs, instance, "days_that_differ_from_the_source", {
                "source_db": defs.resources["source_db"], "warehouse": defs.resources["warehouse"]})
            results.extend(rereads)
            if requests:
                results.append(run_code_location_job(defs, "build_analytics", instance, run_config=quiet))
            print("days that differ from the source, read again: " + (", ".join(
                f"{r.asset_selection[-1].path[-1]} {r.partition_key}" for r in requests) or "none"))
            after = _refunds_and_revenue(warehouse, first_day, last_day)
            late = {
                "first_pass_days": f"{first_day}..{last_day}",
                "as_of": as_of.isoformat(),
                "before": before,
                "after": after,
                "source_net_revenue": _source_net_revenue(first_day, last_day, as_of, scale, skewed),
                "days_read_again": sorted(f"{r.asset_selection[-1].path[-1]} {r.partition_key}" for r in requests),
                "deleted_in_the_source": _deletes_reached(warehouse, first_day, last_day, as_of, scale, skewed),
            }
            gone = late["deleted_in_the_source"]
            print(
                f"deleted by the application since the first pass: {gone['purchases_purged']} purchases of "
                f"{first_day}..{last_day} (raw_data still holding any: {gone['purged_still_in_raw_data']}), "
                f"{gone['users_erased']} users (raw_data.users still holding any: {gone['erased_still_in_raw_data']})"
            )
            print(
                f"sessions of {first_day}..{last_day}: refunded purchases in raw_data.session_transaction "
                f"{before['refunded_purchases']:,} -> {after['refunded_purchases']:,}; analytics net revenue "
                f"{before['net_revenue']:,} -> {after['net_revenue']:,} (the source's truth: {late['source_net_revenue']:,})"
            )
    severity_order = {"passed": 0, "warning": 1, "failed": 2}
    # What each check that did not pass said, per day (its latest word on the day): the counts
    # and where to look, e.g. rejected_lines' rejected lines, share and first reject's file:line.
    findings: dict[str, dict[str, str]] = {}
    for result in results:
        for evaluation in result.get_asset_check_evaluations():
            # A per-day check reports its worst day; a whole-table check its latest result.
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            status = _check_status(evaluation)
            if evaluation.partition is None or severity_order[status] >= severity_order[checks.get(name, "passed")]:
                checks[name] = status
            day = evaluation.partition or "table"
            if status == "passed":
                findings.get(name, {}).pop(day, None)
            elif evaluation.description:
                findings.setdefault(name, {})[day] = evaluation.description

    # Every table the code location writes to the warehouse: the catalog's raw tables, then the
    # dbt models.
    graph = defs.resolve_asset_graph()
    models = sorted(key.path[-1] for key in graph.materializable_asset_keys if graph.get(key).group_name == "analytics")
    tables = [spec.qualified_name for spec in load_catalog()] + [f"analytics.{m}" for m in models]
    counts = {}
    for table in tables:
        schema, name = table.split(".")
        counts[table] = warehouse.query(f'SELECT count(*) FROM "{schema}"."{name}"')[0][0]

    report = {
        "tables": counts,
        "checks": dict(sorted(checks.items())),
        "check_findings": {name: dict(sorted(days.items())) for name, days in sorted(findings.items()) if days},
    }
    if late:
        report["late_changes"] = late
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    return report


# Step-by-step events and errors with their stacks stay in the instance (`make dev`, the run id
# each failure line gives); the terminal gets one line per failure.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _days(first_day: date, last_day: date) -> list[str]:
    return [(first_day + timedelta(days=i)).isoformat() for i in range((last_day - first_day).days + 1)]


def _reason(error) -> str:
    """The first line of the innermost cause: Dagster wraps the platform's error (which names
    the table, file, line and column) in its own 'Error occurred while executing ...'."""
    from warehouse_platform.secrets import scrub

    while error.cause is not None:
        error = error.cause
    lines = (error.message or "").strip().splitlines() or [error.cls_name or "error"]
    # A dg.Failure's description is the platform's own sentence: without Dagster's class path.
    return scrub(lines[0].removeprefix("dagster._core.definitions.events.Failure: "))


def run_failures(result, label: str, freshness_fails: bool = True) -> list[str]:
    """One line per reason a run did not do its job: each failed step (with its error's first
    line), and each ERROR-severity check that failed (`failed <asset key>:<check> <day>: ...`).
    WARN checks are not failures; they are printed by `check` as warnings. Without
    `freshness_fails`, newest_day_fresh and inputs_fresh are left out: a load of past days (a backfill of history)
    makes no table stale, and does not fail because the calendar moved on."""
    import dagster as dg

    lines = [
        f"failed {label}: step {event.step_key}: {_reason(event.step_failure_data.error)}"
        for event in result.all_events if event.is_step_failure and event.step_failure_data.error is not None
    ]
    if not result.success and not lines:
        lines.append(f"failed {label}: run {result.run_id} ended {result.dagster_run.status.value}")
    lines.extend(
        f"failed {evaluation.asset_key.to_user_string()}:{evaluation.check_name} {evaluation.partition or 'table'}: "
        f"{evaluation.description or 'no description'}"
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
        and (freshness_fails or evaluation.check_name not in check_names.FRESHNESS_CHECKS)
    )
    return lines


def _failed_assets(result, selected) -> set:
    """The selected assets a run did not leave good: not materialized (their step failed or was
    skipped), or holding a failed ERROR check. What reads them is not built after it."""
    import dagster as dg

    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    checked_bad = {
        e.asset_key for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR and e.check_name not in check_names.FRESHNESS_CHECKS
    }
    return (set(selected) - materialized) | checked_bad


class JobRunner:
    """The CLI's runs, each a run of a code-location job (or a subset of it, as the UI records
    one) in the platform's Dagster instance; keeps every failure line for the exit status."""

    def __init__(self, defs, instance, tags: dict[str, str] | None = None, freshness_fails: bool = True) -> None:
        self.defs, self.instance, self.tags, self.freshness_fails = defs, instance, tags or {}, freshness_fails
        self.failures: list[str] = []
        # Whether any run loaded rows (a load that found its files already loaded did not).
        self.loaded_rows = False

    def run(self, job_name: str, label: str, run_config: dict | None = None, **kwargs):
        from warehouse_platform.instance.runs import run_code_location_job

        result = run_code_location_job(
            self.defs, job_name, self.instance, run_config={**QUIET, **(run_config or {})}, tags=self.tags, **kwargs)
        failures = run_failures(result, f"{label} (run {result.run_id})", self.freshness_fails)
        for line in failures:
            print(line)
        self.failures.extend(failures)
        self.loaded_rows |= any(
            "already_loaded" in e.materialization.metadata and not e.materialization.metadata["already_loaded"].value
            for e in result.get_asset_materialization_events()
        )
        return result


def _layers(spec) -> list:
    from warehouse_platform.conventions.asset_keys import raw_asset_key, stage_asset_key

    return [stage_asset_key(spec), raw_asset_key(spec)]


def _load_day_runs(runner: JobRunner, specs, days: list[str]) -> set:
    """One run per day of the daily extracted tables `specs` (the whole extract_and_load_day job
    when `specs` is every one of them); the assets that did not load well on some day."""
    from warehouse_platform.contract.history import tables_with_history_on

    daily = [s for s in _catalog() if s.partitioned and _extracted(s)]
    failed: set = set()
    for day in days:
        # Only the tables whose history has begun (each table's history_start): a day before a
        # table's first day is not one of its days, not a failure.
        on_day = tables_with_history_on(specs, day)
        if not on_day:
            print(f"{day}: before the first day of {', '.join(s.qualified_name for s in specs)}; nothing to load")
            continue
        layers = {k for s in on_day for k in _layers(s)}
        selection = None if {s.name for s in on_day} == {s.name for s in daily} else layers
        result = runner.run("extract_and_load_day", f"extract_and_load_day {day}", partition_key=day,
                            asset_selection=selection)
        failed |= _failed_assets(result, layers)
        if result.success:
            print(f"{day}: " + ", ".join(_load_summary(result)))
    return failed


def _landed_day_runs(runner: JobRunner, spec, days: list[str]) -> set:
    """A landed table's days: the files under its landing folder for each day, staged and loaded
    as the landing sensor's run would (a day without files is a failure: nothing to load)."""
    from warehouse_platform.automation.sensors import stage_op_name
    from warehouse_platform.staged_files.landing_layout import LandedFile, classify, landing_folder

    listed = runner.defs.resources["stage"].list_objects(landing_folder(spec), versions=True)
    landed = [f for f in (classify(o.key, o.etag, {spec.name: spec}) for o in listed) if isinstance(f, LandedFile)]
    failed: set = set()
    for day in days:
        files = sorted(f.key for f in landed if f.day == day)
        if not files:
            line = f"failed load {spec.name} {day}: no landed files under {landing_folder(spec, day)}"
            print(line)
            runner.failures.append(line)
            failed |= set(_layers(spec))
            continue
        config = {"ops": {stage_op_name(spec): {"config": {"landed_files": files}}}}
        result = runner.run("__ASSET_JOB", f"load {spec.name} {day}", partition_key=day,
                            asset_selection=set(_layers(spec)), run_config=config)
        failed |= _failed_assets(result, _layers(spec))
        if result.success:
            print(f"{day}: " + ", ".join(_load_summary(result)))
    return failed


def _extracted(spec) -> bool:
    from warehouse_platform.contract.table_spec import RowsFrom

    return spec.rows_from == RowsFrom.EXTRACTION


def _analytics_run(runner: JobRunner, not_good: set, after: set | None = None) -> None:
    """The analytics (dbt models) and exports of build_analytics, all of them or those
    downstream of `after`, except what reads an asset in `not_good`: a table that failed to load
    (or failed an ERROR check) holds back only the models that read it, and the others build."""
    import dagster as dg

    graph = runner.defs.resolve_asset_graph()
    wanted = dg.AssetSelection.groups("analytics", "exports")
    if after is not None:
        wanted = wanted & dg.AssetSelection.assets(*after).downstream()
    held = dg.AssetSelection.assets(*not_good).downstream().resolve(graph) if not_good else set()
    selection = wanted.resolve(graph) - held
    for key in sorted(wanted.resolve(graph) & held, key=lambda k: k.to_user_string()):
        print(f"not built: {key.to_user_string()} (it reads a table that did not load)")
    if not selection:
        return
    result = runner.run("build_analytics", "build_analytics", asset_selection=selection)
    built = {e.asset_key for e in result.get_asset_materialization_events()}
    # A model that fails fails the dbt step, after dbt built the others; Dagster then skips the
    # exports of every model. Those whose model was built and passed its ERROR checks run now.
    good = built - _failed_assets(result, set())
    retry = {k for k in selection - built if graph.get(k).parent_keys & selection and graph.get(k).parent_keys & selection <= good}
    if retry:
        result = runner.run("build_analytics", "build_analytics (exports of the models built)", asset_selection=retry)
        built |= {e.asset_key for e in result.get_asset_materialization_events()}
    print(f"analytics: {len(built & selection)} of {len(selection)} assets built")


def run_backfill(first_day: date, last_day: date, table: str | None = None, analytics: bool = True) -> list[str]:
    """Load a range of days, one run per day (each day is its own exactly-once load), recorded in
    the project's Dagster instance; then, when any day loaded new rows, build the analytics that
    read the tables loaded (no daemon runs after a CLI run, so the CLI does what declarative
    automation would). Returns one line per failure."""
    return run_load(table, first_day, last_day, analytics=analytics, backfill=True)


def run_load(table: str | None, first_day: date | None, last_day: date | None, *, analytics: bool = True,
             backfill: bool = False) -> list[str]:
    """`load --table NAME [--from D --to D]` and `backfill`: a daily table by days, a whole table
    once; returns one line per failure (a usage error raises UsageError)."""
    _prepare_dagster_home()
    import dagster as dg

    from warehouse_platform.catalog import table as table_named
    from warehouse_platform.definitions import build_definitions

    if table is None:
        specs = [s for s in _catalog() if s.partitioned and _extracted(s)]
    else:
        try:
            specs = [table_named(table)]
        except (KeyError, ValueError) as error:
            raise UsageError(f"no table {table!r} in the catalog ({', '.join(s.name for s in _catalog())})") from error
    [spec, *_] = specs or [None]
    if backfill and spec is not None and not (spec.partitioned and _extracted(spec)):
        raise UsageError(f"{spec.qualified_name} is not a daily table fed by extraction; use `load --table {spec.name}`")
    if spec is not None and not spec.partitioned and not _extracted(spec):
        raise UsageError(f"{spec.qualified_name} is loaded whole from its landed files by the landing sensor")
    if spec is not None and not spec.partitioned and (first_day or last_day):
        raise UsageError(f"{spec.qualified_name} is loaded whole: no --from/--to")
    if spec is not None and spec.partitioned and not (first_day and last_day):
        raise UsageError(f"{spec.qualified_name} is loaded by days: give --from and --to")
    if first_day and last_day and last_day < first_day:
        raise UsageError(f"--to {last_day} is before --from {first_day}")
    if table is not None and spec.partitioned and first_day and first_day < spec.history_start:
        raise UsageError(f"--from {first_day} is before {spec.qualified_name}'s first day, its history_start {spec.history_start}")

    defs = build_definitions()
    tags = {"dagster/backfill": f"cli-{first_day}-{last_day}"} if backfill else {}
    # Entered, so definitions resolve against this instance's state (not one left by another).
    with dg.DagsterInstance.get() as instance:
        _fail_runs_of_dead_cli_processes(instance)
        runner = JobRunner(defs, instance, tags, freshness_fails=False)
        loaded = {k for s in specs for k in _layers(s)}
        if spec is not None and not spec.partitioned:
            result = runner.run("load_whole_tables", f"load {spec.name}", asset_selection=set(_layers(spec)))
            not_good = _failed_assets(result, _layers(spec))
            if result.success:
                print(", ".join(_load_summary(result)))
        elif spec is not None and not _extracted(spec):
            not_good = _landed_day_runs(runner, spec, _days(first_day, last_day))
        else:
            not_good = _load_day_runs(runner, specs, _days(first_day, last_day))
        if analytics and runner.loaded_rows:
            _analytics_run(runner, not_good, after={k for k in loaded if k.path[0] != "stage"})
    return runner.failures


def run_build_analytics() -> list[str]:
    """load_whole_tables, then build_analytics: first the whole tables (each its own step: one
    failing does not stop the others), then the models and exports, except those reading a table
    that did not load."""
    _prepare_dagster_home()
    import dagster as dg

    from warehouse_platform.definitions import build_definitions

    defs = build_definitions()
    whole = [s for s in _catalog() if not s.partitioned and _extracted(s)]
    with dg.DagsterInstance.get() as instance:
        _fail_runs_of_dead_cli_processes(instance)
        runner = JobRunner(defs, instance, freshness_fails=False)
        not_good: set = set()
        if whole:
            keys = {k for s in whole for k in _layers(s)}
            result = runner.run("load_whole_tables", "load_whole_tables", asset_selection=keys)
            not_good = _failed_assets(result, keys)
            print("whole tables: " + (", ".join(_load_summary(result)) or "none loaded"))
        _analytics_run(runner, not_good)
    return runner.failures


def run_checks(table: str | None, first_day: date | None, last_day: date | None) -> list[str]:
    """Run checks without loading anything: every check (of one table, with --table), a per-day
    check over every day it holds; with --from/--to, the per-day checks of those days only.
    Prints `failed <asset key>:<check> <day>: <description>` per ERROR failure, `warning ...`
    per WARN; returns the failure lines."""
    _prepare_dagster_home()
    import dagster as dg

    from warehouse_platform.definitions import build_definitions

    if bool(first_day) != bool(last_day):
        raise UsageError("give both --from and --to, or neither")
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    checks = set(graph.asset_check_keys)
    if table is not None:
        names = {s.name: s for s in _catalog()}
        if table not in names:
            raise UsageError(f"no table {table!r} in the catalog ({', '.join(names)})")
        checks = {c for c in checks if c.asset_key in set(_layers(names[table]))}
    if first_day:
        checks = {c for c in checks if graph.get_check_spec(c).partitions_def is not None}
    if not checks:
        raise UsageError("no checks to run" + (" per day" if first_day else "") + (f" for {table}" if table else ""))
    with dg.DagsterInstance.get() as instance:
        _fail_runs_of_dead_cli_processes(instance)
        runner = JobRunner(defs, instance)
        for day in _days(first_day, last_day) if first_day else [None]:
            result = runner.run("__ASSET_JOB", f"check {day or 'every day'}", partition_key=day,
                                asset_selection=set(), asset_check_selection=checks)
            evaluations = result.get_asset_check_evaluations()
            for e in evaluations:
                if not e.passed and e.severity == dg.AssetCheckSeverity.WARN:
                    print(f"warning {e.asset_key.to_user_string()}:{e.check_name} {e.partition or 'table'}: {e.description}")
            print(f"{day or 'every day'}: {sum(e.passed for e in evaluations)} of {len(evaluations)} check results passed")
    return runner.failures


class UsageError(Exception):
    """A command the catalog cannot satisfy (an unknown table, days for a whole table): exit 2."""


def _print_report(report: dict, report_path: Path) -> None:
    print("\nrows per table")
    for table, rows in report["tables"].items():
        print(f"  {table:<42} {rows:>10,}")
    print("\nchecks")
    for check, status in report["checks"].items():
        print(f"  {status:<8} {check}")
        for day, finding in report.get("check_findings", {}).get(check, {}).items():
            print(f"           {day}: {finding}")
    failed = sum(1 for s in report["checks"].values() if s == "failed")
    warned = sum(1 for s in report["checks"].values() if s == "warning")
    print(f"\n{len(report['checks'])} checks: {failed} failed, {warned} warnings. Report: {report_path}")
    stale = [c for c, s in report["checks"].items() if s == "failed" and c.rsplit(":", 1)[-1] in check_names.FRESHNESS_CHECKS]
    if stale:
        # The demo's days are fixed (its figures are reproducible), so they fall behind the calendar:
        # the freshness checks say so, as they would of a production table nobody loads and of
        # the analytics reading it.
        print(f"({len(stale)} of the failures are {' and '.join(check_names.FRESHNESS_CHECKS)}: the demo's days are in "
              "the past, so its daily tables, and the analytics reading them, are honestly stale.)")


def _source_query():
    from warehouse_platform import environment

    endpoint = environment.build_source_database().process_config_and_initialize().endpoint()
    return lambda sql, params: endpoint.query(sql, params)


def run_catalog(args) -> int:
    """`catalog scaffold`: the entries, printed; `catalog diff`: one line per disagreement."""
    from warehouse_platform.catalog import load_catalog
    from warehouse_platform.contract import scaffold

    query = _source_query()
    if args.catalog_command == "scaffold":
        try:
            tables = [scaffold.read_source_table(query, name) for name in args.tables]
        except ValueError as error:
            print(f"catalog scaffold: {error}", file=sys.stderr)
            return 1
        print(scaffold.scaffold(tables), end="")
        return 0
    specs = [s for s in load_catalog() if s.source is not None and s.source.table is not None]
    if args.table:
        specs = [s for s in specs if s.name in args.table]
    found = []
    for spec in specs:
        try:
            found += scaffold.disagreements(spec, scaffold.read_source_table(query, spec.source.table))
        except ValueError as error:
            found.append(f"{spec.qualified_name}: {error}")
    for line in found:
        print(line)
    if not found:
        print(f"{len(specs)} tables: the catalog and the source agree")
    return 1 if found else 0


def dev_command(dg_args: list[str]) -> list[str]:
    """`dg dev ...` as the script installed beside this interpreter, which works from any shell
    (a bare `dg` needs .venv/bin on PATH)."""
    return [str(Path(sys.executable).parent / "dg"), "dev", *dg_args]


def main(argv: list[str] | None = None) -> int:
    from warehouse_platform import settings

    parser = argparse.ArgumentParser(prog="warehouse-platform")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="seed the source and run the whole graph for a week of days")
    demo.add_argument("--first-day", type=date.fromisoformat, default=None, help="default: the catalog's history_start")
    demo.add_argument("--days", type=int, default=7)
    demo.add_argument("--scale", type=float, default=1.0, help="1.0 is about 2,000 sessions a day")
    demo.add_argument("--report", type=Path, default=None)
    demo.add_argument("--skewed", action="store_true", help="a few users own most sessions: see the skew check warn")
    demo.add_argument(
        "--later-days", type=int, default=DEMO_LATER_DAYS,
        help="second pass: the source this many days later, with late refunds (0: no second pass)",
    )
    seed_cmd = sub.add_parser("seed", help="generate source data for a range of days")
    seed_cmd.add_argument("--first-day", type=date.fromisoformat, default=None, help="default: the catalog's history_start")
    seed_cmd.add_argument("--days", type=int, default=7)
    seed_cmd.add_argument("--scale", type=float, default=1.0)
    seed_cmd.add_argument("--skewed", action="store_true", help="a few users own most sessions")
    backfill = sub.add_parser(
        "backfill", help="load a range of days of every daily extracted table, or one (one exactly-once run per day), "
        "then the analytics that read them")
    backfill.add_argument("--from", dest="first_day", type=date.fromisoformat, required=True)
    backfill.add_argument("--to", dest="last_day", type=date.fromisoformat, required=True)
    backfill.add_argument("--table", help="only this daily table (default: every daily table fed by extraction)")
    backfill.add_argument("--no-analytics", dest="analytics", action="store_false",
                          help="do not build the analytics that read the loaded tables afterwards")
    load = sub.add_parser("load", help="load one table: a daily table by days (--from/--to), a whole table once; "
                          "then the analytics that read it")
    load.add_argument("--table", required=True)
    load.add_argument("--from", dest="first_day", type=date.fromisoformat)
    load.add_argument("--to", dest="last_day", type=date.fromisoformat)
    load.add_argument("--no-analytics", dest="analytics", action="store_false",
                      help="do not build the analytics that read the table afterwards")
    sub.add_parser("build-analytics", help="reload the whole tables, then build every dbt model and export "
                   "(a table that fails holds back only the models that read it)")
    check = sub.add_parser("check", help="run the checks without loading (every day of the per-day checks, "
                           "or --from/--to), printing each failure")
    check.add_argument("--table")
    check.add_argument("--from", dest="first_day", type=date.fromisoformat)
    check.add_argument("--to", dest="last_day", type=date.fromisoformat)
    sub.add_parser("dev", help="start the Dagster UI (and daemon) on the platform's instance; other arguments go to `dg dev`")
    sub.add_parser("dagster-home", help="print the Dagster instance folder every entry point uses (and prepare it)")
    instance_config = sub.add_parser(
        "instance-config", help="print the instance's dagster.yaml (--prod: the one deploy/dagster.yaml holds)"
    )
    instance_config.add_argument("--prod", action="store_true")
    sub.add_parser("stop", help="stop the embedded Postgres server")
    catalog_cmd = sub.add_parser("catalog", help="draft catalog entries from the source (scaffold), or compare them (diff)")
    catalog_sub = catalog_cmd.add_subparsers(dest="catalog_command", required=True)
    scaffold_cmd = catalog_sub.add_parser("scaffold", help="print ready catalog entries for source tables, to review and paste")
    scaffold_cmd.add_argument("tables", nargs="+", metavar="SCHEMA.TABLE")
    diff_cmd = catalog_sub.add_parser("diff", help="list where the source and the catalog disagree (exit 1 if they do)")
    diff_cmd.add_argument("--table", action="append", default=None, help="only this catalog entry (repeatable)")
    # `dev` passes what it does not know (--port 3001) to `dg dev`; every other command is strict.
    args, dg_args = parser.parse_known_args(argv)
    if dg_args and args.command != "dev":
        parser.error(f"unrecognized arguments: {' '.join(dg_args)}")
    if args.command in ("demo", "seed") and args.first_day is None:
        args.first_day = demo_first_day()

    if args.command == "demo":
        report_path = args.report or settings.state_dir() / "demo_report.json"
        report = run_demo(args.first_day, args.days, args.scale, report_path, args.skewed, args.later_days)
        _print_report(report, report_path)
        return 0
    if args.command == "seed":
        print(json.dumps(seed(args.first_day, args.days, args.scale, args.skewed)))
        return 0
    if args.command in ("backfill", "load", "build-analytics", "check"):
        try:
            if args.command == "backfill":
                failures = run_backfill(args.first_day, args.last_day, args.table, args.analytics)
            elif args.command == "load":
                failures = run_load(args.table, args.first_day, args.last_day, analytics=args.analytics)
            elif args.command == "build-analytics":
                failures = run_build_analytics()
            else:
                failures = run_checks(args.table, args.first_day, args.last_day)
        except UsageError as error:
            parser.error(str(error))  # exits 2
        # The failure lines were printed as they happened; the last line says how many.
        print(f"{len(failures)} failures" if failures else "no failures")
        return 1 if failures else 0
    if args.command == "dev":
        _prepare_dagster_home()
        # Replaces this process: Ctrl-C and signals go straight to dg dev. Run from the project
        # root, where dg finds the project (pyproject.toml [tool.dg]).
        os.chdir(settings.PROJECT_ROOT)
        # dg warns when the active virtual environment is not the project's: make runs this
        # from the project's .venv without activating it, so say which one is running.
        os.environ.setdefault("VIRTUAL_ENV", sys.prefix)
        # dg from this interpreter's environment, not whatever `dg` PATH finds (none unless
        # .venv/bin is on PATH); dg itself runs `dagster` the same way.
        command = dev_command(dg_args or ["--host", "127.0.0.1", "--port", "3000"])
        os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        os.execv(command[0], command)
    if args.command == "dagster-home":
        print(_prepare_dagster_home())
        return 0
    if args.command == "instance-config":
        from warehouse_platform.instance.config import render_prod_instance_config

        print(render_prod_instance_config() if args.prod else (_prepare_dagster_home() / "dagster.yaml").read_text(), end="")
        return 0
    if args.command == "catalog":
        return run_catalog(args)
    if args.command == "stop":
        from warehouse_platform.postgres_endpoint import stop_embedded_postgres

        stopped = stop_embedded_postgres(settings.embedded_postgres_dir())
        print("embedded Postgres stopped" if stopped else "embedded Postgres was not running")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
