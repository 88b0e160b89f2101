"""Everything that runs without anyone at the keyboard."""

from collections.abc import Sequence

import dagster as dg

from warehouse_platform.automation.jobs import build_jobs, sweep_abandoned_loads
from warehouse_platform.automation.schedules import build_daily_schedule
from warehouse_platform.automation.sensors import build_days_that_differ_sensor, build_landing_sensor
from warehouse_platform.contract.table_spec import RowsFrom, TableSpec
from warehouse_platform.quality.newest_day import build_freshness_sensor

# Named and on by default (RUNNING): under `make dev` the daemon refreshes the channel dimension
# daily and rebuilds analytics and exports after raw loads. Stop it under Automation to do both
# only by hand (load_whole_tables, build_analytics).
declarative_automation = dg.AutomationConditionSensorDefinition(
    "declarative_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Evaluates every asset's automation condition (channel refresh, analytics rebuilds) every 30 seconds.",
)


def build_defs(tables: Sequence[TableSpec]) -> dg.Definitions:
    jobs = build_jobs(tables)
    [extract_and_load_day] = [j for j in jobs if j.name == "extract_and_load_day"]
    return dg.Definitions(
        # Steps run inside the run's process. With one subprocess per step (the default), a day's
        # run spent about 70 s of a 2-core machine starting 18 Python processes for seconds of
        # work; a day's COPY already uses every core through its own connections.
        executor=dg.in_process_executor,
        jobs=[*jobs, sweep_abandoned_loads],
        # A catalog without a daily extracted table has no day to schedule.
        schedules=[build_daily_schedule(extract_and_load_day, tables)] if any(
            s.partitioned and s.rows_from == RowsFrom.EXTRACTION for s in tables) else [],
        sensors=[
            build_landing_sensor(tables), declarative_automation, build_freshness_sensor(tables),
            build_days_that_differ_sensor(tables),
        ],
    )
