"""The daily run: the day that just ended, extracted, staged and loaded for every daily table,
early each morning in the platform's time zone (the partitions' PLATFORM_TIMEZONE). Analytics follow by declarative
automation once the loads' blocking checks pass.

Incremental tables also re-read their trailing `lookback_days` (rows committed late, or changed
after their day's load): one run per trailing day, for those tables only. Re-running an
unchanged day is a no-op (the ledger finds its files already loaded). The newest day is
requested first, so a row that moved to a newer day has left the older one before the older
one is re-read.
"""

from collections.abc import Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from warehouse_platform.contract.history import tables_with_history_on
from warehouse_platform.contract.table_spec import RowsFrom, TableSpec
from warehouse_platform.conventions.asset_keys import raw_asset_key, stage_asset_key
from warehouse_platform.conventions.partitions import daily_partitions


def _layers(specs: Sequence[TableSpec]) -> list[dg.AssetKey]:
    return [key for s in specs for key in (stage_asset_key(s), raw_asset_key(s))]


def lookback_requests(day: str, tables: Sequence[TableSpec]) -> list[dg.RunRequest]:
    """The runs a tick for `day` asks for: the day for every table whose history has begun
    (contract/history.py), then each trailing day for the incremental tables whose lookback
    reaches it."""
    daily = [s for s in tables if s.partitioned and s.rows_from == RowsFrom.EXTRACTION]
    begun = tables_with_history_on(daily, day)
    if not begun:
        return []
    # The whole job while every table's history has begun; its tables that have begun otherwise.
    requests = [dg.RunRequest(run_key=day, partition_key=day,
                              asset_selection=None if len(begun) == len(daily) else _layers(begun))]
    incremental = [s for s in begun if s.incremental]
    for back in range(1, max((s.incremental.lookback_days for s in incremental), default=0) + 1):
        earlier = (date.fromisoformat(day) - timedelta(days=back)).isoformat()
        reached = tables_with_history_on([s for s in incremental if s.incremental.lookback_days >= back], earlier)
        if not reached:
            continue
        requests.append(dg.RunRequest(
            run_key=f"{day}:lookback:{earlier}", partition_key=earlier,
            asset_selection=_layers(reached),
            tags={"warehouse_platform/lookback_of": day},
        ))
    return requests


def build_daily_schedule(extract_and_load_day, tables: Sequence[TableSpec]) -> dg.ScheduleDefinition:
    days = daily_partitions(tables)

    @dg.schedule(
        name="daily_extract_and_load",
        job=extract_and_load_day,
        cron_schedule="0 2 * * *",
        execution_timezone=days.timezone,
        description="Loads the day that just ended (the latest complete partition) at 02:00, and re-reads the "
        "incremental tables' lookback days.",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def daily_extract_and_load(context: dg.ScheduleEvaluationContext):
        # The day that just ended, in the partitions' time zone.
        now = context.scheduled_execution_time.astimezone(ZoneInfo(days.timezone))
        day = (now.date() - timedelta(days=1)).isoformat()
        return lookback_requests(day, tables) or dg.SkipReason(f"no table's history has begun on {day}")

    return daily_extract_and_load
