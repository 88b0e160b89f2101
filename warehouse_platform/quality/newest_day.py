"""Freshness of tables loaded by day: the newest day loaded, not the last run.

The check `newest_day_fresh` fails when the newest day the load ledger holds rows for (a day the
source had nothing for is not loaded) is older than yesterday in the business time zone (PLATFORM_TIMEZONE), with that day in its metadata. It runs
with every load of the table and, so a table nobody loads still turns stale in the UI, the
sensor `newest_day_freshness` records it every 10 minutes without a run (on by default).
"""

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from warehouse_platform import settings
from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.conventions import check_names
from warehouse_platform.conventions.asset_keys import raw_asset_key
from warehouse_platform.quality import evaluations
from warehouse_platform.rules.freshness import days_behind, days_text, is_fresh, newest_loaded_day
from warehouse_platform.warehouse.resources import Warehouse

FRESHNESS_SENSOR_INTERVAL_SECONDS = 600


def business_today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def newest_day_fresh(warehouse: Warehouse, spec: TableSpec, today: date) -> dg.AssetCheckResult:
    newest = newest_loaded_day(evaluations.days_with_rows(warehouse, spec))
    behind = days_behind(newest, today)
    yesterday = today - timedelta(days=1)
    if newest is None:
        verdict = f"stale: {spec.qualified_name} holds no loaded day (yesterday, {yesterday}, is due)"
    elif is_fresh(newest, today):
        verdict = f"fresh: the newest loaded day is {newest} (yesterday is {yesterday})"
    else:
        verdict = f"stale: the newest loaded day is {newest}, {days_text(behind)} behind yesterday ({yesterday})"
    return dg.AssetCheckResult(
        passed=is_fresh(newest, today),
        severity=dg.AssetCheckSeverity.ERROR,
        description=verdict,
        # Text, not numbers: a day is not a quantity to plot.
        metadata={
            "newest_loaded_day": dg.MetadataValue.text(str(newest) if newest else "none"),
            "days_behind": dg.MetadataValue.text("n/a" if behind is None else str(max(behind, 0))),
            "judged_on": dg.MetadataValue.text(f"{today} ({settings.timezone()})"),
        },
    )


def build_newest_day_check(spec: TableSpec) -> dg.AssetChecksDefinition:
    timezone = settings.timezone()

    @dg.asset_check(
        asset=raw_asset_key(spec), name=check_names.NEWEST_DAY_FRESH,
        description=f"Fails when the newest loaded day is older than yesterday ({timezone}); names that day.",
    )
    def newest_day_fresh_check(warehouse: Warehouse) -> dg.AssetCheckResult:
        return newest_day_fresh(warehouse, spec, business_today(timezone))

    return newest_day_fresh_check


def recorded_without_a_run(check_name: str, what: str, results: dict[dg.AssetKey, dg.AssetCheckResult]) -> dg.SensorResult:
    """A sensor's tick recording `check_name`'s result for each asset as a check evaluation,
    without a run (freshness changes with the clock, not with a load), and saying which are stale."""
    recorded = [
        dg.AssetCheckEvaluation(
            asset_key=key, check_name=check_name, passed=result.passed,
            metadata=result.metadata, severity=result.severity, description=result.description,
        )
        for key, result in results.items()
    ]
    stale = [e.asset_key.to_user_string() for e in recorded if not e.passed]
    return dg.SensorResult(
        asset_events=recorded,
        skip_reason=f"recorded {check_name} of {len(recorded)} {what}; stale: {', '.join(stale) or 'none'}",
    )


def build_freshness_sensor(tables: Sequence[TableSpec]) -> dg.SensorDefinition:
    daily = [spec for spec in tables if spec.partitioned]
    timezone = settings.timezone()

    @dg.sensor(
        name="newest_day_freshness",
        minimum_interval_seconds=FRESHNESS_SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Records newest_day_fresh of every table loaded by day every 10 minutes, without a run, "
        "so a table nobody loads turns stale in the UI.",
    )
    def newest_day_freshness(context: dg.SensorEvaluationContext, warehouse: Warehouse) -> dg.SensorResult:
        today = business_today(timezone)
        return recorded_without_a_run(check_names.NEWEST_DAY_FRESH, "tables", {
            raw_asset_key(spec): newest_day_fresh(warehouse, spec, today) for spec in daily})

    return newest_day_freshness
