"""The code location rebound to the environment as it is now, for runs started in this process
(the demo, the backfill command, tests). `definitions.defs` binds resources when it is first
imported; a process that changes its environment afterwards must not run against the old one."""

from collections.abc import Sequence

import dagster as dg

from warehouse_platform.lib.table_spec import TableSpec
from warehouse_platform.warehouse.raw_tables import RAW_TABLES


def current_definitions(tables: Sequence[TableSpec] = RAW_TABLES) -> dg.Definitions:
    from warehouse_platform.definitions import build_definitions

    return build_definitions(tables)
