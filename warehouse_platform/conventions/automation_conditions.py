"""When analytics rebuild on their own: after any raw input's data changed, once nothing
upstream is still running, every blocking check upstream (duplicate keys, type limits, an empty
day's row_volume) has passed and no day of an input holds a failed one. A raw table's data
version is the hash of its loaded files (warehouse/assets.py), so a re-run of an already-loaded
day materializes the asset again but changes nothing downstream.

Not `eager()`: that also waits while any upstream is missing, and a daily table always has
days that were never loaded (the history before it was backfilled), so it would never fire.

Every clause carries a label: the automation history of a model (its "Automation" tab) shows
which one held it back.
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

NOTHING_UPSTREAM_IN_PROGRESS = "no load of an input in progress (a day still loading)"
EVERY_BLOCKING_CHECK_PASSED = "every input's blocking checks passed"
NO_INPUT_DAY_FAILED_A_BLOCKING_CHECK = (
    "no day of an input failed a blocking check (duplicate keys, row_volume: an empty day)"
)

# A model reads every day of a daily table, so one day with duplicated keys or emptied by a
# broken source spoils it. Dagster's all_deps_blocking_checks_passed() is not enough for that:
# for an unpartitioned model over a daily table it holds when *some* day's checks passed. Dagster
# 1.13 records no severity in a check's status, so a row_volume WARN (a thin day) holds the model
# back too, until the day is loaded again (or the model is built by hand).
no_input_day_failed_a_blocking_check = (
    ~dg.AutomationCondition.any_deps_match(
        dg.AutomationCondition.any_checks_match(dg.AutomationCondition.check_failed(), blocking_only=True)
    )
).with_label(NO_INPUT_DAY_FAILED_A_BLOCKING_CHECK)

rebuild_after_raw_loads = (
    any_deps_data_changed.since_last_handled()
    & (~dg.AutomationCondition.any_deps_in_progress()).with_label(NOTHING_UPSTREAM_IN_PROGRESS)
    & (~dg.AutomationCondition.in_progress()).with_label("not already being built")
    & dg.AutomationCondition.all_deps_blocking_checks_passed().with_label(EVERY_BLOCKING_CHECK_PASSED)
    & no_input_day_failed_a_blocking_check
).with_label("rebuild after raw loads whose blocking checks passed")
