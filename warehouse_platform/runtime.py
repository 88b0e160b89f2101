"""The code location rebound to the environment as it is now, for runs started in this process
(the demo, the backfill command, tests). `definitions.defs` binds resources when it is first
imported; a process that changes its environment afterwards must not run against the old one."""

import dagster as dg

from warehouse_platform import environment


def current_definitions() -> dg.Definitions:
    from warehouse_platform.definitions import defs

    return dg.Definitions(
        assets=list(defs.assets),
        asset_checks=list(defs.asset_checks),
        jobs=list(defs.jobs),
        schedules=list(defs.schedules),
        sensors=list(defs.sensors),
        executor=defs.executor,
        resources=environment.build_resources(),
    )
