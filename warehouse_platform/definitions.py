"""The code location: every domain's definitions for the declared raw tables, bound to this
environment's resources."""

from collections.abc import Sequence

import dagster as dg

from warehouse_platform import environment
from warehouse_platform.automation import definitions as automation
from warehouse_platform.export import assets as export_assets
from warehouse_platform.extract import assets as extract_assets
from warehouse_platform.lib.table_spec import TableSpec
from warehouse_platform.quality import checks as quality_checks
from warehouse_platform.transform import assets as transform_assets
from warehouse_platform.warehouse import assets as warehouse_assets
from warehouse_platform.warehouse.raw_tables import RAW_TABLES


def build_definitions(tables: Sequence[TableSpec] = RAW_TABLES) -> dg.Definitions:
    """Everything per table comes from `tables`; resources are bound to the environment as it is
    when this is called."""
    return dg.Definitions.merge(
        extract_assets.build_defs(tables),
        warehouse_assets.build_defs(tables),
        transform_assets.defs,
        export_assets.defs,
        quality_checks.build_defs(tables),
        automation.build_defs(tables),
        dg.Definitions(resources=environment.build_resources()),
    )


defs = build_definitions()
