"""Landing sensor: files other systems drop under landing/<table>/ are loaded without anyone
at the keyboard, through the same stage -> load path, ledger and checks as extracted days.

Each tick lists landing/ (folder or S3, one code path through the Stage resource) and, per table
and day, compares the object versions present with the record of the versions the day's rows
were loaded from (staged_files/landing_layout.py, stage/landing_record.py). A table and day with
any version the record lacks gets one run, which stages every file then present for it (a day's
content is all its landed files, so a second file adds to the first). Run keys come from the
files, their ETags and the record, so a repeated tick never loads a file twice, and a day whose
record lost a file (an older run loaded last) is asked for again. A file that cannot be loaded (unknown table, a table fed by
extraction, a day before its table's first day, contract/history.py) is reported in the tick and skipped; a file for a
day whose partition does not exist yet waits. No file can make a tick fail.
"""

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

import dagster as dg

from warehouse_platform.contract.history import day_before_history
from warehouse_platform.contract.table_spec import DeleteKind, RowsFrom, TableSpec
from warehouse_platform.conventions.asset_keys import raw_asset_key, stage_asset_key
from warehouse_platform.conventions.partitions import daily_partitions
from warehouse_platform.extract.source_comparison import days_that_differ
from warehouse_platform.extract.source_database import SourceDatabase
from warehouse_platform.stage.landing_record import read_loaded
from warehouse_platform.stage.storage import Stage
from warehouse_platform.staged_files.landing_layout import (
    LANDING_PREFIX,
    LandedFile,
    classify,
    not_loaded,
    run_key,
)
from warehouse_platform.warehouse.resources import Warehouse


def stage_op_name(spec: TableSpec) -> str:
    return "__".join(stage_asset_key(spec).path)


def _layers_of(specs: Sequence[TableSpec]) -> dg.AssetSelection:
    """A sensor's target: the stage and raw assets of the tables it can request runs of (with
    their checks), and no others. Its job is built, resolved and snapshotted with the code
    location; a target of every stage and raw asset made each sensor's job about 1,650 ops
    with 200 tables, for runs that only ever select the tables the sensor serves."""
    return dg.AssetSelection.assets(*(key for spec in specs for key in (stage_asset_key(spec), raw_asset_key(spec))))


def _day_status(days: dg.DailyPartitionsDefinition, spec: TableSpec, day: str | None) -> str:
    """'ok', 'too early' (before the table's first day: never loadable) or 'waiting' (its
    partition does not exist yet)."""
    if day is None:
        return "ok"
    if day_before_history(spec, day):
        return "too early"
    last = days.get_last_partition_key()
    return "waiting" if last is None or day > last else "ok"


def build_landing_sensor(tables: Sequence[TableSpec]) -> dg.SensorDefinition:
    specs = {spec.name: spec for spec in tables}
    days = daily_partitions(tables)

    @dg.sensor(
        name="landing_files",
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.STOPPED,
        target=_layers_of([spec for spec in tables if spec.rows_from == RowsFrom.LANDING]),
        description="Loads files dropped under landing/<table>/[day=YYYY-MM-DD/] in the stage, for tables "
        "fed by landed files. Off by default: turn it on under Automation.",
    )
    def landing_files(context: dg.SensorEvaluationContext, stage: Stage) -> dg.SensorResult | dg.SkipReason:
        listed = stage.list_objects(LANDING_PREFIX, versions=True)
        problems: list[str] = []
        waiting: list[str] = []
        present: dict[tuple[str, str | None], list[LandedFile]] = defaultdict(list)
        for obj in listed:
            landed = classify(obj.key, obj.etag, specs)
            if isinstance(landed, str):
                problems.append(landed)
                continue
            status = _day_status(days, specs[landed.table], landed.day)
            if status == "too early":
                problems.append(f"{obj.key}: {day_before_history(specs[landed.table], landed.day)}; it is never loaded")
            elif status == "waiting":
                waiting.append(obj.key)
            else:
                present[(landed.table, landed.day)].append(landed)
        for problem in problems:
            context.log.warning(f"landing file not loaded: {problem}")
        if waiting:
            context.log.info(f"{len(waiting)} landed files wait for their day's partition: {waiting[:10]}")

        loaded = read_loaded(context.instance, present) if present else {}
        requests = []
        for (table, day), files in sorted(present.items(), key=lambda item: (item[0][0], item[0][1] or "")):
            if not not_loaded(files, loaded[(table, day)]):
                continue
            spec = specs[table]
            requests.append(
                dg.RunRequest(
                    run_key=run_key(table, day, files, loaded[(table, day)]),
                    partition_key=day,
                    asset_selection=[stage_asset_key(spec), raw_asset_key(spec)],
                    run_config={"ops": {stage_op_name(spec): {"config": {"landed_files": sorted(f.key for f in files)}}}},
                    tags={"warehouse_platform/source": "landing", "warehouse_platform/landed_files": str(len(files))},
                )
            )
        if requests:
            # Dagster keeps a skip reason for ticks that request nothing (SensorResult refuses
            # both); a tick that requests runs lists what it did not load in its logs (the
            # warnings above, one per file, and this line: the tick's "View logs" in the UI).
            if problems:
                context.log.warning(
                    f"{len(requests)} runs requested; {len(problems)} landed files not loaded: " + "; ".join(problems)
                )
            return dg.SensorResult(run_requests=requests)
        summary = f"nothing new among {len(listed)} files under {stage.url_for(LANDING_PREFIX)}"
        if waiting:
            summary += f"; {len(waiting)} wait for their day's partition"
        if problems:
            summary += f"; {len(problems)} not loadable: " + "; ".join(problems[:20])
        return dg.SkipReason(summary)

    return landing_files


# A scan of every loaded day on both sides (one grouped query each): a few times a day is enough
# for changes no lookback reaches, and cheap next to the loads themselves.
DAYS_THAT_DIFFER_INTERVAL_SECONDS = 6 * 3600
# Re-reads requested per table and tick, oldest first: a source restored from an old backup
# must not flood the run queue; the next tick asks for the rest.
MAX_REREADS_PER_TABLE = 31


def reconciled_tables(tables: Sequence[TableSpec]) -> list[TableSpec]:
    """Daily tables extracted from the source under `deletes: hard`: a re-read day becomes the
    source's rows exactly, so a day that differs is fixed by reading it again. (Tables that keep
    or mark deleted keys differ from the source by design; landed days have no source to ask.)"""
    return [
        spec for spec in tables
        if spec.partitioned and spec.rows_from == RowsFrom.EXTRACTION and spec.source is not None
        and spec.source.day_column and spec.deletes.kind == DeleteKind.HARD
    ]


def build_days_that_differ_sensor(tables: Sequence[TableSpec]) -> dg.SensorDefinition:
    reconciled = reconciled_tables(tables)
    days = daily_partitions(tables)

    @dg.sensor(
        name="days_that_differ_from_the_source",
        minimum_interval_seconds=DAYS_THAT_DIFFER_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        target=_layers_of(reconciled),
        description="Every 6 hours, compares each loaded day of the daily extracted tables with the source (rows "
        "and a hash of every column, one grouped scan per side) and re-reads the days that differ: a purchase "
        "deleted or changed after its lookback, a row whose cursor moved back.",
    )
    def days_that_differ_from_the_source(
        context: dg.SensorEvaluationContext, source_db: SourceDatabase, warehouse: Warehouse
    ) -> dg.SensorResult | dg.SkipReason:
        last = days.get_last_partition_key()
        if last is None:
            return dg.SkipReason("no partition yet")
        requests, summary = [], []
        for spec in reconciled:
            loaded = warehouse.loaded_days(spec)
            if not loaded:
                continue
            differing = days_that_differ(
                spec, source_db.query, warehouse.query, warehouse.dialect,
                date.fromisoformat(min(loaded)), date.fromisoformat(min(max(loaded), last)),
            )
            # Only days a load filled: a day never loaded is the backfill's to load, not this sensor's.
            stale = sorted(day for day in differing if day.isoformat() in loaded)
            if stale:
                summary.append(f"{spec.qualified_name}: {len(stale)} days differ ({', '.join(d.isoformat() for d in stale[:5])}"
                               + (", ..." if len(stale) > 5 else "") + ")")
            for day in stale[:MAX_REREADS_PER_TABLE]:
                # One run per difference: the same source figures ask for the same run (Dagster
                # launches a run key once), a new change of the day for a new one.
                figures = hashlib.sha256(repr(differing[day]).encode()).hexdigest()[:16]
                requests.append(dg.RunRequest(
                    run_key=f"days_that_differ:{spec.name}:{day.isoformat()}:{figures}",
                    partition_key=day.isoformat(),
                    asset_selection=[stage_asset_key(spec), raw_asset_key(spec)],
                    tags={"warehouse_platform/source": "days_that_differ"},
                ))
        if not requests:
            return dg.SkipReason(f"every loaded day of {len(reconciled)} tables agrees with the source")
        context.log.info("re-reading days that differ from the source: " + "; ".join(summary))
        return dg.SensorResult(run_requests=requests)

    return days_that_differ_from_the_source
