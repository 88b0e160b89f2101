"""Partitions shared by the extract, stage and raw layers: one per day of sessions."""

import dagster as dg

# The application's history in this platform starts here; earlier days are not extracted.
PARTITIONS_START_DATE = "2026-10-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START_DATE)
