"""Everything that runs without anyone at the keyboard."""

import dagster as dg

from warehouse_platform.automation import jobs
from warehouse_platform.automation.schedules import daily_session_load
from warehouse_platform.automation.sensors import landing_files

# Named and on by default (RUNNING): under `make dev` the daemon refreshes the channel dimension
# daily and rebuilds analytics and exports after raw loads. Stop it under Automation to do both
# only by hand (build_analytics).
declarative_automation = dg.AutomationConditionSensorDefinition(
    "declarative_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Evaluates every asset's automation condition (channel refresh, analytics rebuilds) every 30 seconds.",
)

defs = dg.Definitions(
    # Steps run inside the run's process. With one subprocess per step (the default), a day's
    # run spent about 70 s of a 2-core machine starting 18 Python processes for seconds of
    # work; a day's COPY already uses every core through its own connections.
    executor=dg.in_process_executor,
    jobs=[jobs.load_daily_sessions, jobs.build_analytics, jobs.check_tables, jobs.sweep_abandoned_loads],
    schedules=[daily_session_load],
    sensors=[landing_files, declarative_automation],
)
