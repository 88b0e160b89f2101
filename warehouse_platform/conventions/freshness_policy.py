"""How stale a table may get before the data team hears of it.

Tables replaced whole (channel, users) and the dbt models: their last load *is* their age, so
they carry Dagster's FreshnessPolicy (DAILY_FRESHNESS). Tables loaded by day do not: the policy
measures the last materialization, which a re-run of an old day renews, so it would call a table
weeks behind "fresh". They have the check newest_day_fresh instead (quality/newest_day.py).
"""

from datetime import timedelta

import dagster as dg

# Loaded once a day: warn when a day's load is two hours late, fail after six.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=30), warn_window=timedelta(hours=26))
