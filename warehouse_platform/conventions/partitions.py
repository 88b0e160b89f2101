"""Partitions shared by the extract, stage and raw layers: one per day, in the platform's
business time zone (PLATFORM_TIMEZONE, default UTC), from the earliest first day the catalog's
daily tables declare (contract/history.py)."""

from collections.abc import Iterable
from functools import cache

import dagster as dg

from warehouse_platform import settings
from warehouse_platform.contract.history import first_partition_day
from warehouse_platform.contract.table_spec import TableSpec


def daily_partitions(tables: Iterable[TableSpec]) -> dg.DailyPartitionsDefinition:
    """The days of these tables, in the time zone the environment names when definitions are
    built (never at import: a process that sets PLATFORM_TIMEZONE later still gets its own days).
    One definition for every daily table: a job and a sensor's target need their assets to share
    one (contract/history.first_partition_day says how tables with other first days fit)."""
    return _daily_partitions_in(first_partition_day(tables).isoformat(), settings.timezone())


@cache  # one definition per start and time zone: every asset of a code location shares the same object
def _daily_partitions_in(start_date: str, timezone: str) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start_date, timezone=timezone)


# Backfills run one day per run, deliberately not as a single run: a day is the unit of the
# exactly-once load and of the per-day checks, and in Dagster 1.13 a single run over a range
# evaluates a partitioned check once, for no partition. With the in-process executor a day's
# run costs seconds of overhead (6 s for a 2,000-session day under `make dev`), and each day's
# COPY already uses every core.
one_day_per_run = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
