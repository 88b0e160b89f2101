"""Jobs: what runs together.

load_daily_sessions  extract + stage + load of the day-partitioned session tables, one day per run
build_analytics      the channel dimension (unpartitioned, replaced whole), every dbt model, exports
"""

from __future__ import annotations

import dagster as dg

from warehouse_platform.extract.assets import stage_asset_key
from warehouse_platform.warehouse.assets import raw_asset_key
from warehouse_platform.warehouse.raw_tables import RAW_TABLES

_daily = [s for s in RAW_TABLES if s.partitioned]
_reference = [s for s in RAW_TABLES if not s.partitioned]

load_daily_sessions = dg.define_asset_job(
    "load_daily_sessions",
    selection=dg.AssetSelection.assets(*(stage_asset_key(s) for s in _daily), *(raw_asset_key(s) for s in _daily)),
    description="Extract one day of sessions from the application database, stage it, and load raw_data.",
)

build_analytics = dg.define_asset_job(
    "build_analytics",
    selection=(
        dg.AssetSelection.assets(*(stage_asset_key(s) for s in _reference), *(raw_asset_key(s) for s in _reference))
        | dg.AssetSelection.groups("analytics", "exports")
    ),
    description=(
        "Reload the channel dimension, rebuild every analytics model with dbt (tests included) and "
        "export the reporting tables to the stage."
    ),
)

defs = dg.Definitions(jobs=[load_daily_sessions, build_analytics])
