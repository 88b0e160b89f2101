"""The code location: every domain's definitions, bound to this environment's resources."""

import dagster as dg

from warehouse_platform import environment
from warehouse_platform.automation import definitions as automation
from warehouse_platform.export import assets as export_assets
from warehouse_platform.extract import assets as extract_assets
from warehouse_platform.quality import checks as quality_checks
from warehouse_platform.transform import assets as transform_assets
from warehouse_platform.warehouse import assets as warehouse_assets

defs = dg.Definitions.merge(
    extract_assets.defs,
    warehouse_assets.defs,
    transform_assets.defs,
    export_assets.defs,
    quality_checks.defs,
    automation.defs,
    dg.Definitions(resources=environment.build_resources()),
)
