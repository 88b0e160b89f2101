"""The daily run: the day that just ended, extracted, staged and loaded for every daily table,
early each morning in the platform's time zone (the partitions' PLATFORM_TIMEZONE). Analytics
follow by declarative automation once the loads' blocking checks pass."""

import dagster as dg


def build_daily_schedule(extract_and_load_day) -> dg.ScheduleDefinition:
    return dg.build_schedule_from_partitioned_job(
        extract_and_load_day,
        name="daily_extract_and_load",
        hour_of_day=2,
        minute_of_hour=0,
        description="Loads the day that just ended (the latest complete partition) at 02:00.",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
