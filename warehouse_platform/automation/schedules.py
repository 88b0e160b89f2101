"""The daily run: yesterday's sessions, extracted, staged and loaded, early each morning in the
platform's time zone (the partitions' PLATFORM_TIMEZONE). Analytics follow by declarative
automation once the loads' blocking checks pass."""

import dagster as dg


def build_daily_schedule(load_daily_sessions) -> dg.ScheduleDefinition:
    return dg.build_schedule_from_partitioned_job(
        load_daily_sessions,
        name="daily_session_load",
        hour_of_day=2,
        minute_of_hour=0,
        description="Loads the day that just ended (the latest complete partition) at 02:00.",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
