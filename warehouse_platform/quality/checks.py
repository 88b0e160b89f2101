"""Asset checks on the raw tables: what Redshift never enforces or reports by itself.

per raw table
  duplicate_primary_keys          ERROR, blocking: analytics does not build on duplicated keys
  distribution_skew               WARN: slice skew of the DISTKEY, with a suggested distribution
  rows_staged_equal_rows_loaded   ERROR: manifest = ledger = table, per file
  row_volume                      day-partitioned tables: WARN on a sharp drop against the trailing
                                  days, ERROR (blocking) on an empty day after non-empty ones
  newest_day_fresh                day-partitioned tables: ERROR when the newest loaded day is older than
                                  yesterday (quality/newest_day.py; also recorded by a sensor)
  source_parity                   extracted tables: ERROR when any declared column of any row of the day
                                  (or the table) differs between the source and raw_data; names the keys
per stage asset
  redshift_type_limits            ERROR, blocking: every text value fits its VARCHAR in bytes
  rejected_lines                  structured log tables: WARN above 0 rejected lines, ERROR (blocking)
                                  above the declared share of the day's lines
Day-partitioned tables are checked per day; skew is a property of the whole table. The raw
table's checks that run with each load (duplicate keys, reconciliation, row volume, source parity)
are one op per table, `<asset>__checks_of_each_load`, whose checks read at once.

A per-day check run without a day ("Execute all" on an asset's Checks tab, a job selecting
the check) checks every day instead, and says so: duplicate keys over the whole table; the
reconciliation and the type limits for each day, each recorded as that day's result, plus a
summary for the run. Dagster 1.13 cannot turn an AssetCheckResult of a partitioned check into
an evaluation in a run without a partition (it asks the run for its partition key), so those
results are emitted as AssetCheckEvaluations directly.
"""

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import dagster as dg

from warehouse_platform.contract.table_spec import RowsFrom, TableSpec
from warehouse_platform.conventions import check_names
from warehouse_platform.conventions.asset_keys import raw_asset_key, stage_asset_key
from warehouse_platform.conventions.partitions import daily_partitions
from warehouse_platform.extract.source_database import SourceDatabase
from warehouse_platform.quality import evaluations
from warehouse_platform.quality.newest_day import build_newest_day_check
from warehouse_platform.rules.skew import DEFAULT_SKEW_THRESHOLD, SMALL_TABLE_ROWS
from warehouse_platform.stage.io_manager import read_staged_batch
from warehouse_platform.stage.log_structuring import read_structuring_summary
from warehouse_platform.stage.storage import Stage
from warehouse_platform.staged_files.manifest import StagedBatch, table_folder
from warehouse_platform.warehouse.resources import Warehouse


def _staged(stage: Stage, spec: TableSpec, day: str | None, run_id: str | None = None) -> StagedBatch:
    """The batch `run_id` staged for the day (a check running with its day's load), or the newest."""
    return read_staged_batch(stage, table_folder(spec), day, run_id=run_id)


class SkewCheckConfig(dg.Config):
    threshold: float = DEFAULT_SKEW_THRESHOLD
    # Whole tables (never daily ones) up to this size are advised DISTSTYLE ALL.
    small_table_rows: int = SMALL_TABLE_ROWS


def _as_evaluation(
    asset_key: dg.AssetKey, check_name: str, result: dg.AssetCheckResult, blocking: bool, partition: str | None
) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=asset_key, check_name=check_name, passed=result.passed, metadata=result.metadata,
        severity=result.severity, description=result.description, blocking=blocking, partition=partition,
    )


def _every_day(
    asset_key: dg.AssetKey, check_name: str, blocking: bool,
    days: list[str], source: str, evaluate_day: Callable[[str], dg.AssetCheckResult],
) -> Iterator[dg.AssetCheckEvaluation]:
    """A per-day check in a run without a day: each day's own result, then the run's summary
    (the caller yields the check's output after them)."""
    results = {}
    for day in days:
        try:
            results[day] = evaluate_day(day)
        except FileNotFoundError as missing:  # a day loaded earlier whose stage was since removed
            results[day] = dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, description=str(missing))
    for day, result in results.items():
        yield _as_evaluation(asset_key, check_name, result, blocking, day)
    yield _as_evaluation(asset_key, check_name, evaluations.every_day_summary(results, source), blocking, None)


def _only_output(context: dg.AssetCheckExecutionContext) -> dg.Output:
    """The output of a one-check op whose results were yielded as evaluations."""
    return dg.Output(None, output_name=context.op_execution_context.op_def.output_defs[0].name)


# The Dagster UI greys out the Execute button of every check on a daily (partitioned) asset, with
# only a tooltip ("not yet supported"); the check's description says how it does run.
ON_A_DAILY_TABLE = (
    " Execute is greyed on a daily table's checks, because Dagster does not run them on their own: they run with "
    "each day's load (Materialize, pick the days), and `warehouse-platform check --table <table> [--from <day> "
    "--to <day>]` runs them without loading (the per-day ones over every loaded day, or over those days)."
)


def how_to_run(spec: TableSpec, description: str) -> str:
    """A check's description, with how to run it when the UI's Execute cannot (a daily table)."""
    return description + ON_A_DAILY_TABLE if spec.partitioned else description


def _build_checks(spec: TableSpec, days: dg.DailyPartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    partitions = days if spec.partitioned else None

    def partition_of(context: dg.AssetCheckExecutionContext) -> str | None:
        return context.partition_key if partitions else None

    def one_day(context: dg.AssetCheckExecutionContext) -> bool:
        return partitions is None or context.has_partition_key

    @dg.asset_check(
        asset=raw_asset_key(spec), name=check_names.DISTRIBUTION_SKEW,
        description=how_to_run(
            spec, "Rows per slice under the DISTKEY; warns at AWS's 4.00 skew. Advises a distribution for the table's future "
            "by AWS's rule: DISTSTYLE ALL only for a whole table under the stated row bound (never a daily one), else KEY "
            "on an evenly spreading column the dbt models join on, else EVEN; one sentence says why.",
        ),
    )
    def distribution_skew(config: SkewCheckConfig, warehouse: Warehouse) -> dg.AssetCheckResult:
        # Imported here: reading the models' joins takes dagster-dbt and sqlglot, which only this
        # check needs; a day's run, whose checks live in this module too, does not carry them.
        from warehouse_platform.transform.project import dbt_model_joins

        joins = dbt_model_joins()
        return evaluations.table_missing(warehouse, spec, dg.AssetCheckSeverity.WARN) or evaluations.distribution_skew(
            warehouse, spec, config.threshold, config.small_table_rows,
            None if joins is None else joins.get(spec.qualified_name, {}),
        )

    @dg.asset_check(
        asset=stage_asset_key(spec), name=check_names.REDSHIFT_TYPE_LIMITS, blocking=True, partitions_def=partitions,
        description=how_to_run(spec, "Widest text value per column in UTF-8 bytes against its VARCHAR (and Redshift's 65,535)."),
    )
    def redshift_type_limits(context: dg.AssetCheckExecutionContext, stage: Stage):
        def limits(day: str | None, run_id: str | None = None) -> dg.AssetCheckResult:
            return evaluations.redshift_type_limits(spec, _staged(stage, spec, day, run_id))

        if one_day(context):
            yield limits(partition_of(context), context.run.run_id)
            return
        # Without a day: every staged day (the widths are in the manifests, so this reads no data).
        days = sorted(context.instance.get_materialized_partitions(stage_asset_key(spec)))
        yield from _every_day(stage_asset_key(spec), check_names.REDSHIFT_TYPE_LIMITS, True, days, "staged", limits)
        yield _only_output(context)

    checks = [_checks_of_each_load(spec, partitions, one_day, partition_of), distribution_skew, redshift_type_limits]
    if spec.structuring is not None:
        checks.append(_rejected_lines_check(spec, partitions, one_day, partition_of))
    if spec.partitioned:
        checks.append(build_newest_day_check(spec))
    return checks


def _rejected_lines_check(spec: TableSpec, partitions, one_day, partition_of) -> dg.AssetChecksDefinition:
    limit = spec.structuring.reject_share_limit

    @dg.asset_check(
        asset=stage_asset_key(spec), name=check_names.REJECTED_LINES, blocking=True, partitions_def=partitions,
        description=how_to_run(spec, f"Landed log lines that could not be structured: WARN above 0, ERROR (blocking: the day is not "
        f"loaded) above {limit:.0%} of the day's lines. Metadata: the first rejects with their file and line."),
    )
    def rejected_lines(context: dg.AssetCheckExecutionContext, stage: Stage):
        def judge_day(day: str | None, run_id: str | None = None) -> dg.AssetCheckResult:
            return evaluations.rejected_lines(spec, read_structuring_summary(stage, _staged(stage, spec, day, run_id)))

        if one_day(context):
            yield judge_day(partition_of(context), context.run.run_id)
            return
        days = sorted(context.instance.get_materialized_partitions(stage_asset_key(spec)))
        yield from _every_day(stage_asset_key(spec), check_names.REJECTED_LINES, True, days, "staged", judge_day)
        yield _only_output(context)

    return rejected_lines


@dataclass(frozen=True)
class _Resources:
    warehouse: Warehouse
    stage: Stage
    source_db: SourceDatabase | None
    # Read once for all the checks: the failed result they give when the table was never loaded.
    table_missing: dg.AssetCheckResult | None


@dataclass(frozen=True)
class _LoadCheck:
    """One of the checks each load of the raw table runs (see _checks_of_each_load)."""

    name: str
    blocking: bool
    description: str
    # The check of one day (None: the whole table), for the run `run_id` that loaded it.
    evaluate: Callable[[_Resources, str | None, str | None], dg.AssetCheckResult]
    # Without a day, on a daily table: the days checked one by one and where they come from;
    # None when one evaluation of the whole table covers every day (evaluate(None)).
    days_without_a_day: Callable[[_Resources], tuple[list[str], str]] | None = None


def _load_checks(spec: TableSpec) -> list[_LoadCheck]:
    key = ", ".join(spec.primary_key)

    def ledger_days(r: _Resources) -> tuple[list[str], str]:
        return evaluations.ledger_partitions(r.warehouse, spec), "in the load ledger"

    checks = [
        _LoadCheck(
            check_names.DUPLICATE_PRIMARY_KEYS, True,
            f"({key}) must be unique. Redshift does not enforce primary keys; its planner assumes them.",
            # Without a day, one query over the whole table covers every day (and keys shared by two days).
            lambda r, day, _run: r.table_missing or evaluations.duplicate_primary_keys(r.warehouse, spec, day),
        ),
        _LoadCheck(
            check_names.ROWS_STAGED_EQUAL_ROWS_LOADED, False,
            "Every staged file is in the load ledger with its row count, and the table holds what was loaded.",
            lambda r, day, run_id: evaluations.rows_staged_equal_rows_loaded(
                r.warehouse, spec, day, _staged(r.stage, spec, day, run_id)),
            ledger_days if spec.partitioned else None,
        ),
    ]
    if spec.partitioned:
        # Blocking: an empty day after loaded ones (ERROR) fails its run, so the backfill and the
        # day read as failed rather than as a green partition, and analytics are not rebuilt over
        # it (conventions/automation_conditions.py). A thin day (WARN) does not fail the run.
        checks.append(_LoadCheck(
            check_names.ROW_VOLUME, True,
            "A day's rows against the loaded days before it: WARN below half their median; ERROR on an empty day, "
            "which fails the day's run and holds analytics back.",
            lambda r, day, _run: r.table_missing or evaluations.row_volume_of_day(r.warehouse, spec, day),
            ledger_days,
        ))
    if spec.rows_from == RowsFrom.EXTRACTION and spec.source is not None:  # landed rows have no source to match
        checks.append(_LoadCheck(
            check_names.SOURCE_PARITY, False,
            f"Every declared column of every row of the day in the source (by {spec.source.day_column}) equals "
            "raw_data's day (a hash of each row, summed; on a difference, the keys that differ)."
            if spec.partitioned else
            "Every declared column of every row in the source equals raw_data's (a hash of each row, summed; "
            "on a difference, the keys that differ).",
            lambda r, day, _run: r.table_missing or evaluations.source_parity(r.warehouse, r.source_db, spec, day),
            ledger_days if spec.partitioned else None,
        ))
    return checks


def _checks_of_each_load(spec: TableSpec, partitions, one_day, partition_of) -> dg.AssetChecksDefinition:
    """The raw table's checks that run with each load (duplicate keys, reconciliation, row volume,
    source parity) in one op whose checks run at once, each on its own connection: they are
    independent reads, and one after the other, as steps of their own, they cost a 1M-row day
    about as much as its load (docs/benchmarks.md). Each is still its own check, selectable
    alone (the op runs only the selected ones) and shown on its own in the UI."""
    asset = raw_asset_key(spec)
    checks = _load_checks(spec)
    needs_source = any(c.name == check_names.SOURCE_PARITY for c in checks)
    output_of: dict[dg.AssetCheckKey, str] = {}

    @dg.multi_asset_check(
        name=f"{'__'.join(asset.path)}__checks_of_each_load",
        specs=[
            dg.AssetCheckSpec(c.name, asset=asset, description=how_to_run(spec, c.description), blocking=c.blocking,
                              partitions_def=partitions)
            for c in checks
        ],
        can_subset=True,
        required_resource_keys={"warehouse", "stage", *(["source_db"] if needs_source else [])},
        description=f"The checks each load of {spec.qualified_name} runs, at once.",
    )
    def checks_of_each_load(context: dg.AssetCheckExecutionContext):
        warehouse = context.resources.warehouse
        # Read here, before the threads (so the resource also resolves its connection details once).
        missing = evaluations.table_missing(warehouse, spec, dg.AssetCheckSeverity.ERROR)
        resources = _Resources(
            warehouse, context.resources.stage, context.resources.source_db if needs_source else None, missing)
        selected = [c for c in checks if dg.AssetCheckKey(asset, c.name) in context.selected_asset_check_keys]
        one = one_day(context)
        day, run_id = (partition_of(context), context.run.run_id) if one else (None, None)

        def without_a_day(check: _LoadCheck) -> list[dg.AssetCheckEvaluation]:
            if check.days_without_a_day is None:
                return [_as_evaluation(asset, check.name, check.evaluate(resources, None, None), check.blocking, None)]
            days, source = check.days_without_a_day(resources)
            return list(_every_day(asset, check.name, check.blocking, days, source,
                                   lambda d, check=check: check.evaluate(resources, d, None)))

        errors = []
        with ThreadPoolExecutor(max(1, len(selected)), thread_name_prefix="load-check") as pool:
            if one:
                running = {pool.submit(c.evaluate, resources, day, run_id): c for c in selected}
            else:
                running = {pool.submit(without_a_day, c): c for c in selected}
            # Each result as soon as its check ends; a check that raises does not hide the others'.
            for done in as_completed(running):
                check = running[done]
                try:
                    outcome = done.result()
                except Exception as error:  # noqa: BLE001 - raised below, after the other checks' results
                    errors.append(error)
                    continue
                if one:
                    yield _named(outcome, asset, check.name)
                else:
                    yield from outcome
                    yield dg.Output(None, output_name=output_of[dg.AssetCheckKey(asset, check.name)])
        if errors:
            raise errors[0]

    output_of.update({spec.key: name for name, spec in checks_of_each_load.check_specs_by_output_name.items()})
    return checks_of_each_load


def _named(result: dg.AssetCheckResult, asset: dg.AssetKey, check_name: str) -> dg.AssetCheckResult:
    """A result of one check of a multi-check op, which has to say whose it is."""
    return dg.AssetCheckResult(
        asset_key=asset, check_name=check_name, passed=result.passed, severity=result.severity,
        description=result.description, metadata=result.metadata,
    )


def build_defs(tables: Sequence[TableSpec]) -> dg.Definitions:
    days = daily_partitions(tables)
    return dg.Definitions(asset_checks=[check for spec in tables for check in _build_checks(spec, days)])
