"""analytics: the dbt models built from raw_data, and the exports of the reporting tables."""

from pathlib import Path

import dagster as dg

from warehouse_platform.export import assets as export_assets
from warehouse_platform.transform import assets as transform_assets


def analytics_definitions(dbt_project_dir: Path | None = None) -> dg.Definitions:
    """dbt_project/ unless another project is given (a test's copy with extra models)."""
    return dg.Definitions.merge(transform_assets.build_defs(dbt_project_dir), export_assets.build_defs())


@dg.definitions
def defs() -> dg.Definitions:
    return analytics_definitions()
