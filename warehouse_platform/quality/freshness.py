"""How stale a table may get before the data team hears of it (Dagster's FreshnessPolicy;
evaluated by the daemon under `make dev`, shown on each asset)."""

from datetime import timedelta

import dagster as dg

# Loaded once a day: warn when a day's load is two hours late, fail after six.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=30), warn_window=timedelta(hours=26))
