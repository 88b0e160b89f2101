"""How stale a table may get before the data team hears of it.

Tables replaced whole (channel, users): their last load *is* their age, so they carry Dagster's
FreshnessPolicy (DAILY_FRESHNESS). Nothing else does, because the policy measures the asset's last
materialization: a re-run of an old day renews a daily table's, and a rebuild over weeks-old inputs
a dbt model's, so the page would read "Freshness policy: Passing" over data a month old. Daily
tables have the check newest_day_fresh (quality/newest_day.py), the models inputs_fresh, the same
rule carried through lineage (quality/inputs_freshness.py).
"""

from datetime import timedelta

import dagster as dg

# Loaded once a day: warn when a day's load is two hours late, fail after six.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=30), warn_window=timedelta(hours=26))
