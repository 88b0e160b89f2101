"""When analytics rebuild on their own: after any raw input's data changed, once nothing
upstream is still running and every blocking check upstream (duplicate keys, type limits) has
passed. A raw table's data version is the hash of its loaded files (warehouse/assets.py), so a
re-run of an already-loaded day materializes the asset again but changes nothing downstream.

Not `eager()`: that also waits while any upstream is missing, and a daily table always has
days that were never loaded (the history before it was backfilled), so it would never fire.
"""

from functools import cache

import dagster as dg

from warehouse_platform import settings


def daily_refresh() -> dg.AutomationCondition:
    """The unpartitioned extracted tables (the channel dimension) have no daily job; they refresh
    themselves each morning, in the time zone the environment names when definitions are built."""
    return _daily_refresh_in(settings.timezone())


@cache
def _daily_refresh_in(timezone: str) -> dg.AutomationCondition:
    return dg.AutomationCondition.on_cron("0 2 * * *", cron_timezone=timezone).with_label("refresh daily at 02:00")

# any_deps_updated(), with "updated" narrowed to "its data version changed".
any_deps_data_changed = dg.AutomationCondition.any_deps_match(
    (dg.AutomationCondition.data_version_changed() & ~dg.AutomationCondition.executed_with_root_target())
    | dg.AutomationCondition.will_be_requested()
).with_label("any dependency's data changed")

rebuild_after_raw_loads = (
    any_deps_data_changed.since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("rebuild after raw loads whose blocking checks passed")
