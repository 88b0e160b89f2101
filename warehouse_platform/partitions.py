"""Partitions shared by the extract, stage and raw layers: one per day of sessions, in the
platform's business time zone (PLATFORM_TIMEZONE, default UTC)."""

import dagster as dg

from warehouse_platform import environment

# The application's history in this platform starts here; earlier days are not extracted.
PARTITIONS_START_DATE = "2026-10-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START_DATE, timezone=environment.timezone())
