"""Partitions shared by the extract, stage and raw layers: one per day of sessions, in the
platform's business time zone (PLATFORM_TIMEZONE, default UTC)."""

from functools import cache

import dagster as dg

from warehouse_platform import settings
from warehouse_platform.contract.history import FIRST_DAY

# The application's history in this platform starts here (contract/history.py, also the demo's
# first day); earlier days are not extracted.
PARTITIONS_START_DATE = FIRST_DAY.isoformat()


def daily_partitions() -> dg.DailyPartitionsDefinition:
    """The days, in the time zone the environment names when definitions are built (never at
    import: a process that sets PLATFORM_TIMEZONE later still gets its own days)."""
    return _daily_partitions_in(settings.timezone())


@cache  # one definition per time zone: every asset of a code location shares the same object
def _daily_partitions_in(timezone: str) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=PARTITIONS_START_DATE, timezone=timezone)


# Backfills run one day per run, deliberately not as a single run: a day is the unit of the
# exactly-once load and of the per-day checks, and in Dagster 1.13 a single run over a range
# evaluates a partitioned check once, for no partition. With the in-process executor a day's
# run costs seconds of overhead (6 s for a 2,000-session day under `make dev`), and each day's
# COPY already uses every core.
one_day_per_run = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
