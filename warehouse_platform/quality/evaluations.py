"""What each check finds, as AssetCheckResults with the figures the data team reviews.

Each function takes a warehouse (and what else it needs) and returns a result; the Dagster
wiring in checks.py only decides which table and partition. Tests call these directly.
"""

import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import dagster as dg

from warehouse_platform.contract.table_spec import DeleteKind, DistStyle, LoadMode, TableSpec
from warehouse_platform.extract.source_comparison import compare_by_buckets, on_both_sides
from warehouse_platform.extract.source_database import SourceDatabase
from warehouse_platform.rules import parity as parity_rules
from warehouse_platform.rules import row_volume
from warehouse_platform.rules.rejected_lines import Verdict, judge
from warehouse_platform.rules.skew import (
    DEFAULT_SKEW_THRESHOLD,
    MIN_ROWS_PER_SLICE_TO_JUDGE,
    SMALL_TABLE_ROWS,
    KeySpread,
    advise_distribution,
    slice_bars,
)
from warehouse_platform.sql import key_window as key_window_sql
from warehouse_platform.sql import load as load_sql_builder
from warehouse_platform.sql import parity as parity_sql
from warehouse_platform.sql import quality as quality_sql
from warehouse_platform.sql.ddl import held_back_schema
from warehouse_platform.stage.log_structuring import StructuringSummary
from warehouse_platform.staged_files.manifest import EMPTY_BATCH_CHECKSUM, StagedBatch
from warehouse_platform.staged_files.text_widths import text_widths, width_violations
from warehouse_platform.warehouse.day_volume import day_volume
from warehouse_platform.warehouse.load_request import UNPARTITIONED
from warehouse_platform.warehouse.resources import Warehouse


def _table(records: list[dict], columns: list[tuple[str, str]]) -> dg.MetadataValue:
    return dg.MetadataValue.table(
        records=[dg.TableRecord(r) for r in records],
        schema=dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns]),
    )


def _params(spec: TableSpec, partition_key: str | None) -> dict:
    return {"partition_date": partition_key, "table_name": spec.qualified_name, "partition_key": partition_key or UNPARTITIONED}


def table_missing(warehouse: Warehouse, spec: TableSpec, severity: dg.AssetCheckSeverity) -> dg.AssetCheckResult | None:
    """A failed result when the table has never been loaded, so checks say so instead of crashing."""
    [(exists,)] = warehouse.query("SELECT to_regclass(%s) IS NOT NULL", (f'"{spec.schema}"."{spec.name}"',)) if warehouse.dialect == "postgres" else [(True,)]
    if exists:
        return None
    return dg.AssetCheckResult(
        passed=False, severity=severity, description=f"{spec.qualified_name} has not been loaded yet",
        metadata={"status": "table missing"},
    )


def duplicate_primary_keys(warehouse: Warehouse, spec: TableSpec, partition_key: str | None) -> dg.AssetCheckResult:
    summary_sql, sample_sql = quality_sql.duplicate_keys_sql(spec, partition=partition_key is not None)
    params = _params(spec, partition_key)
    [(duplicate_keys, affected_rows)] = warehouse.query(summary_sql, params)
    sample = warehouse.query(sample_sql, params) if duplicate_keys else []
    key_label = ", ".join(spec.primary_key)
    return dg.AssetCheckResult(
        passed=duplicate_keys == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{duplicate_keys:,} values of ({key_label}) occur more than once ({int(affected_rows):,} rows)"
            if duplicate_keys
            else f"every ({key_label}) is unique"
        ) + (f" (keys of {partition_key}, against the whole table)" if partition_key else " (whole table, every day)"),
        metadata={
            "scope": partition_key or "whole table",
            "duplicate_keys": int(duplicate_keys),
            "affected_rows": int(affected_rows),
            "sample": _table(
                [{"key": ", ".join(str(v) for v in row[:-1]), "copies": int(row[-1])} for row in sample],
                [("key", "string"), ("copies", "int")],
            ),
        },
    )


def _ratio_metadata(ratio: float) -> dg.MetadataValue:
    return dg.MetadataValue.float(round(ratio, 3)) if math.isfinite(ratio) else dg.MetadataValue.text("inf (a slice is empty)")


def distribution_skew(
    warehouse: Warehouse, spec: TableSpec, threshold: float = DEFAULT_SKEW_THRESHOLD,
    small_table_rows: int = SMALL_TABLE_ROWS, joins: Mapping[str, int] | None = None,
) -> dg.AssetCheckResult:
    """The DISTKEY's spread, and advice for the table's future (rules/skew.advise_distribution):
    `joins` counts the dbt models' join conditions per column of the table, None when unknown."""
    if spec.dist_style != DistStyle.KEY:
        return dg.AssetCheckResult(
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"not applicable: DISTSTYLE {spec.dist_style.value} does not distribute rows by a key",
            metadata={"status": "not applicable", "diststyle": spec.dist_style.value},
        )
    spreads = []
    for column in spec.distribution_candidates:
        heaviest = warehouse.query(quality_sql.heaviest_values_sql(spec, column))
        spreads.append(KeySpread(column, warehouse.rows_per_slice(spec, column), tuple((str(v), int(n)) for v, n in heaviest)))
    current = spreads[0]
    suggestion = advise_distribution(
        spec.dist_key, spreads, current.total, whole=not spec.partitioned, joins=joins,
        threshold=threshold, all_rows_bound=small_table_rows, rows_to_judge=MIN_ROWS_PER_SLICE_TO_JUDGE * warehouse.slice_count,
    )
    too_small = current.total < MIN_ROWS_PER_SLICE_TO_JUDGE * warehouse.slice_count
    passed = too_small or current.ratio < threshold
    verdict = (
        f"too few rows ({current.total:,}) to judge" if too_small
        else ("is within" if current.ratio < threshold else "exceeds") + f" the {threshold:.2f} threshold"
    )
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"DISTKEY({spec.dist_key}) skew {current.ratio:.2f} over {warehouse.slice_count} slices {verdict}; "
            f"suggested: {suggestion.ddl} ({suggestion.reason})"
        ),
        metadata={
            "skew_rows": _ratio_metadata(current.ratio),
            # Settings, not measurements: text, so the UI does not plot them as flat lines.
            "threshold": dg.MetadataValue.text(f"{threshold:.2f}"),
            "slices": dg.MetadataValue.text(str(warehouse.slice_count)),
            # One row per slice with its bar: a table renders inline on the Checks tab.
            "rows_per_slice": _table(
                [
                    {"slice": i, "rows": n, "share": round(n / current.total, 4) if current.total else 0.0, "bar": bar}
                    for i, (n, bar) in enumerate(zip(current.rows_per_slice, slice_bars(current.rows_per_slice), strict=True))
                ],
                [("slice", "int"), ("rows", "int"), ("share", "float"), ("bar", "string")],
            ),
            "heaviest_keys": _table(
                [{"value": v, "rows": n, "share": round(share, 4)} for v, n, share in current.heaviest_shares()],
                [("value", "string"), ("rows", "int"), ("share", "float")],
            ),
            "candidates": _table(
                [{"column": s.column, "skew": round(s.ratio, 3) if math.isfinite(s.ratio) else -1.0} for s in spreads],
                [("column", "string"), ("skew", "float")],
            ),
            "suggested_distribution": suggestion.ddl,
            "suggestion_reason": suggestion.reason,
            # What the advice weighed: the table's kind, the bound under which a whole table may
            # be ALL, and the joins it would collocate (and where they were read).
            "table_kind": "daily (grows every day: never advised ALL)" if spec.partitioned else "whole table (a dimension)",
            "all_rows_bound": dg.MetadataValue.text(f"{small_table_rows:,} rows: DISTSTYLE ALL only for a whole table at or under this"),
            "joins_read_from": "the dbt models' SQL" if joins is not None else f"the declared DISTKEY ({spec.dist_key}): no dbt manifest",
            "joins": _table(
                [{"column": c, "join_conditions": n} for c, n in sorted((joins if joins is not None else {spec.dist_key: 1}).items())],
                [("column", "string"), ("join_conditions", "int")],
            ),
            # Redshift's own SVV_TABLE_INFO.skew_rows, beside the per-slice figure above.
            "svv_table_info_skew_rows": reported if (reported := warehouse.reported_skew(spec)) is not None else "n/a",
        },
    )


def ledger_partitions(warehouse: Warehouse, spec: TableSpec) -> list[str]:
    """The days (partition keys) the load ledger holds active files for, oldest first."""
    if table_missing(warehouse, spec, dg.AssetCheckSeverity.ERROR):
        return []
    return [day for (day,) in warehouse.query(quality_sql.ledger_partitions_sql(spec.schema), {"table_name": spec.qualified_name})]


def days_with_rows(warehouse: Warehouse, spec: TableSpec) -> list[str]:
    """The days loaded with rows, oldest first: freshness counts these (an empty day is not loaded)."""
    if table_missing(warehouse, spec, dg.AssetCheckSeverity.ERROR):
        return []
    return [day for (day,) in warehouse.query(quality_sql.days_with_rows_sql(spec.schema), {"table_name": spec.qualified_name})]


def rows_staged_equal_rows_loaded(
    warehouse: Warehouse, spec: TableSpec, partition_key: str | None, staged: StagedBatch
) -> dg.AssetCheckResult:
    params = _params(spec, partition_key)
    # A file's identity is its checksum (the same bytes staged again under another name are the
    # same file); several parts can share one (e.g. empty parts), so each match consumes one entry.
    ledger: dict[str, list[tuple[str, int]]] = {}
    kept = 0
    for url, checksum, rows, batch_kept in warehouse.query(load_sql_builder.ledger_active_files_sql(spec.schema), params):
        ledger.setdefault(checksum, []).append((url, int(rows)))
        kept = int(batch_kept)
    ledger_rows = sum(rows for entries in ledger.values() for _, rows in entries)
    [(table_rows,)] = warehouse.query(load_sql_builder.count_partition_rows_sql(spec), params)
    held_back = _held_back_rows(warehouse, spec, partition_key)
    files, problems = [], []
    for part in staged.parts:
        entries = ledger.get(part.checksum) or []
        loaded = entries.pop(0)[1] if entries else None
        files.append({"file": part.url, "manifest_rows": part.row_count, "ledger_rows": -1 if loaded is None else loaded})
        if loaded is None:
            problems.append(f"{part.url} is in the manifest but was never loaded")
        elif loaded != part.row_count:
            problems.append(f"{part.url}: manifest {part.row_count} rows, ledger {loaded}")
    if not staged.parts:
        # An empty day is recorded as one row for its manifest (warehouse/ledger.py): that row
        # is the batch, not a file missing from it.
        ledger.pop(EMPTY_BATCH_CHECKSUM, None)
    for url, rows in sorted(entry for entries in ledger.values() for entry in entries):
        problems.append(f"{url} ({rows} rows) is loaded but not in the current manifest")
    manifest_rows = staged.row_count
    deduplicated = ledger_rows - kept
    # Upserts may later move a key to a newer day, so a day can only shrink, never grow; an
    # upserted whole table keeps every row the load did not replace, so it can only hold more.
    if spec.mode != LoadMode.UPSERT:
        # A day's copies held back for a later day's copy of their key are rows it loaded, kept aside.
        expected_ok = table_rows + held_back == kept
    else:
        expected_ok = table_rows <= kept if spec.partitioned else table_rows >= kept
    if ledger and not expected_ok:
        held = f" (+ {held_back} held back for a later day's copy of their key)" if held_back else ""
        problems.append(
            f"table holds {table_rows} rows{held}; the load left {kept} ({ledger_rows} loaded - {deduplicated} duplicates)"
        )
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) if problems else f"{manifest_rows:,} staged = {ledger_rows:,} in the ledger; {table_rows:,} in the table",
        metadata={
            "manifest_rows": manifest_rows,
            "ledger_rows": ledger_rows,
            "duplicates_removed": deduplicated,
            "table_rows": int(table_rows),
            **({"rows_held_back_for_a_later_day": int(held_back)} if spec.key_window_days else {}),
            "files": _table(files, [("file", "string"), ("manifest_rows", "int"), ("ledger_rows", "int")]),
        },
    )


def _held_back_rows(warehouse: Warehouse, spec: TableSpec, partition_key: str | None) -> int:
    """The day's copies held back because a later day of the window holds their key (tables
    declaring key_window_days; none before the first load created their table)."""
    if not spec.key_window_days or partition_key is None:
        return 0
    [(exists,)] = warehouse.query(parity_sql.table_exists_sql(), {"schema": held_back_schema(spec), "table": spec.name})
    if not exists:
        return 0
    return int(warehouse.query(key_window_sql.count_held_back_of_day_sql(spec), {"partition_date": partition_key})[0][0])


def every_day_summary(results: dict[str, dg.AssetCheckResult], source: str) -> dg.AssetCheckResult:
    """One result for a per-day check run over every day: passed when every day passed, with the
    worst day's severity, naming the days checked and the days that failed."""
    failing = {day: r for day, r in results.items() if not r.passed}
    severity = (
        dg.AssetCheckSeverity.ERROR
        if any(r.severity == dg.AssetCheckSeverity.ERROR for r in failing.values()) or not failing
        else dg.AssetCheckSeverity.WARN
    )
    if not results:
        description = f"run without a day: no day {source} to check"
    else:
        span = f"{min(results)}..{max(results)}" if len(results) > 1 else min(results)
        description = f"run without a day: checked every day {source}, {len(results)} days ({span}); " + (
            f"{len(failing)} failed: " + "; ".join(f"{day}: {r.description}" for day, r in sorted(failing.items()))
            if failing else "all passed"
        )
    return dg.AssetCheckResult(
        passed=not failing,
        severity=severity,
        description=description,
        metadata={
            "scope": f"every day {source}",
            "days_checked": len(results),
            "days_failed": len(failing),
            "days": _table(
                [{"day": day, "passed": r.passed, "description": r.description or ""} for day, r in sorted(results.items())],
                [("day", "string"), ("passed", "bool"), ("description", "string")],
            ),
        },
    )


def redshift_type_limits(spec: TableSpec, staged: StagedBatch) -> dg.AssetCheckResult:
    """The width rule the loader applies (staged_files/text_widths.py), shown per column."""
    widths = text_widths(spec, staged)
    problems = [w.describe() for w in width_violations(spec, staged)]
    cut = [w.describe() for w in widths if w.overflows] if spec.truncate_columns else []
    records = [
        {
            "column": w.column, "declared_bytes": w.limit, "widest_bytes": w.widest.bytes if w.widest else 0,
            "file": w.file_url, "line": w.widest.line if w.widest else 0,
        }
        for w in widths
    ]
    if problems:
        description = "; ".join(problems)
    elif cut:
        description = "the table declares truncate_columns: the load cuts these to their column: " + "; ".join(cut)
    else:
        description = "every text value fits its column in UTF-8 bytes"
    unknown = [c for c in spec.text_column_names if any(c not in p.widest for p in staged.parts)]
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "columns": _table(records, [("column", "string"), ("declared_bytes", "int"), ("widest_bytes", "int"), ("file", "string"), ("line", "int")]),
            "columns_without_width_statistics": ", ".join(unknown) or "none",
            "values_cut_by_truncate_columns": len(cut),
        },
    )


def row_volume_of_day(warehouse: Warehouse, spec: TableSpec, partition_key: str) -> dg.AssetCheckResult:
    """A day's rows against the median of up to 7 loaded days before it (within 31 days): WARN
    below half, ERROR when the day is empty and they were not."""
    volume = day_volume(warehouse, spec, partition_key)
    median = volume.verdict.trailing_median
    return dg.AssetCheckResult(
        passed=volume.passed,
        severity=dg.AssetCheckSeverity.ERROR if volume.verdict.volume == row_volume.Volume.EMPTY else dg.AssetCheckSeverity.WARN,
        description=volume.description,
        metadata={
            "rows": volume.day_rows,
            "trailing_median": round(median, 1) if median is not None else "n/a",
            "volume": volume.verdict.volume.value,
            "trailing_days": _table(
                [{"day": d.isoformat(), "rows": n} for d, n in volume.trailing], [("day", "string"), ("rows", "int")]
            ),
        },
    )


PARITY_SAMPLE = 20


def source_parity(
    warehouse: Warehouse, source_db: SourceDatabase, spec: TableSpec, partition_key: str | None
) -> dg.AssetCheckResult:
    """Every declared column of every row of the day in the source (by its day column) against
    raw_data's day; the whole table for unpartitioned tables (sql/parity.py). On a difference,
    the keys that differ, found by comparing buckets of keys first (rules/parity.py)."""
    params: dict = {"partition_date": partition_key}
    if partition_key is not None:
        start = datetime.combine(date.fromisoformat(partition_key), time())
        params |= {"day_start": start, "day_end": start + timedelta(days=1)}
    dialect = warehouse.dialect
    [(source_rows, source_sum)], [(raw_rows, raw_sum)] = on_both_sides(
        lambda: source_db.query(parity_sql.totals_sql(spec, "source"), params),
        lambda: warehouse.query(parity_sql.totals_sql(spec, dialect), params),
    )
    scope = f"day {partition_key} (by {spec.source.day_column})" if partition_key else "whole table"
    figures = {"scope": scope, "source_rows": int(source_rows), "raw_rows": int(raw_rows), "columns_compared": len(spec.columns)}
    if (source_rows, _number(source_sum)) == (raw_rows, _number(raw_sum)):
        return dg.AssetCheckResult(
            passed=True, severity=dg.AssetCheckSeverity.ERROR, metadata=figures,
            description=f"{scope}: source and raw_data agree: {raw_rows:,} rows, every column of every row",
        )
    diff = _differing_keys(warehouse, source_db, spec, params)
    if not (diff.missing or diff.changed) and spec.deletes.kind != DeleteKind.HARD:
        return dg.AssetCheckResult(
            passed=True, severity=dg.AssetCheckSeverity.ERROR,
            metadata={**figures, "keys_deleted_in_the_source": len(diff.extra)},
            description=(
                f"{scope}: source and raw_data agree, every column of every row; {len(diff.extra):,} keys the source "
                f"deleted stay in raw_data as declared (deletes: {spec.deletes})"
            ),
        )
    return dg.AssetCheckResult(
        passed=False, severity=dg.AssetCheckSeverity.ERROR,
        description=f"{scope}: {_parity_problem(spec, diff, source_rows, raw_rows)}",
        metadata={
            **figures,
            "keys_missing_from_raw_data": len(diff.missing),
            "keys_deleted_in_the_source": len(diff.extra),
            "keys_with_other_values": len(diff.changed),
            "keys_changed_without_a_cursor_change": len(diff.unbumped),
            "sample_of_differing_keys": dg.MetadataValue.json({
                "missing": [list(k) for k in diff.missing[:PARITY_SAMPLE]],
                "deleted_in_source": [list(k) for k in diff.extra[:PARITY_SAMPLE]],
                "other_values": [list(k) for k in diff.changed[:PARITY_SAMPLE]],
                "changed_without_cursor_change": [list(k) for k in diff.unbumped[:PARITY_SAMPLE]],
            }),
            "what_to_do": dg.MetadataValue.md(_parity_advice(spec, diff)),
        },
    )


def _number(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _differing_keys(warehouse: Warehouse, source_db: SourceDatabase, spec: TableSpec, params: dict) -> parity_rules.ParityDiff:
    return compare_by_buckets(spec, source_db.query, warehouse.query, warehouse.dialect, params)[1]


def _parity_problem(spec: TableSpec, diff: parity_rules.ParityDiff, source_rows: int, raw_rows: int) -> str:
    parts = [f"{source_rows:,} rows in the source, {raw_rows:,} in {spec.qualified_name}"]
    for label, keys in (
        ("missing from raw_data", diff.missing), ("deleted in the source", diff.extra), ("with other values", diff.changed),
    ):
        if keys:
            parts.append(f"{len(keys):,} keys {label} (first: {', '.join('/'.join(k) for k in keys[:3])})")
    if diff.unbumped:
        parts.append(
            f"{len(diff.unbumped):,} changed without their {spec.incremental.cursor} changing "
            f"(first: {', '.join('/'.join(k) for k in diff.unbumped[:3])})"
        )
    return "; ".join(parts)


def _parity_advice(spec: TableSpec, diff: parity_rules.ParityDiff) -> str:
    advice = []
    if diff.unbumped:
        advice.append(
            f"- The application changed rows without updating `{spec.incremental.cursor}`: incremental reads cannot see "
            "such changes. Fix the application; then re-read the day (daily) or reload the table in full."
        )
    if spec.partitioned:
        advice.append("- Re-run the day: its load reads the day and looks up every key it held, wherever it lives now.")
    elif spec.incremental is not None:
        advice.append(
            "- The incremental read only sees rows whose cursor moved since the last load (minus the lookback): "
            "reload the table in full to repair it."
        )
    else:
        advice.append("- Reload the table (`load_whole_tables`).")
    if diff.extra:
        advice.append("- Keys deleted in the source stay in raw_data until a read of their day or table no longer finds them.")
    return "\n".join(advice)


def rejected_lines(spec: TableSpec, summary: StructuringSummary) -> dg.AssetCheckResult:
    """Log lines the structuring step could not turn into rows (docs/logs.md: what a reject
    means): WARN above zero, ERROR above the table's declared share."""
    verdict = judge(summary.rejected, summary.lines_read, summary.reject_share_limit)
    first = summary.first_rejects[0] if summary.first_rejects else None
    where = f"; first: {first['file']} line {first['line']}: {first['reason']}" if first else ""
    return dg.AssetCheckResult(
        passed=verdict == Verdict.PASSED,
        severity=dg.AssetCheckSeverity.ERROR if verdict == Verdict.ERROR else dg.AssetCheckSeverity.WARN,
        description=(
            f"{summary.rejected:,} of {summary.lines_read:,} lines rejected ({summary.reject_share:.2%}; "
            f"the limit is {summary.reject_share_limit:.2%}){where}"
            if summary.rejected else f"all {summary.lines_read:,} lines structured"
        ),
        metadata={
            "rejected_lines": summary.rejected,
            "lines_read": summary.lines_read,
            "reject_share": round(summary.reject_share, 6),
            "reject_share_limit": summary.reject_share_limit,
            "rejects": dg.MetadataValue.url(summary.rejects_url),
            "first_rejects": _table(
                [{"file": r["file"], "line": r["line"], "reason": r["reason"], "text": r["text"][:200]} for r in summary.first_rejects],
                [("file", "string"), ("line", "int"), ("reason", "string"), ("text", "string")],
            ),
        },
    )
