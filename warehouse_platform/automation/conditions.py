"""When analytics rebuild on their own: after any raw input is updated, once nothing upstream
is still running and every blocking check upstream (duplicate keys, type limits) has passed.

Not `eager()`: that also waits while any upstream is missing, and a daily table always has
days that were never loaded (the history before it was backfilled), so it would never fire.
"""

import dagster as dg

from warehouse_platform import environment

# The unpartitioned channel dimension has no daily job; it refreshes itself each morning.
daily_refresh = dg.AutomationCondition.on_cron("0 2 * * *", cron_timezone=environment.timezone()).with_label(
    "refresh daily at 02:00"
)

rebuild_after_raw_loads = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("rebuild after raw loads whose blocking checks passed")
