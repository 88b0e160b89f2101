"""analytics: the dbt models built from raw_data, and the exports of the reporting tables."""

from pathlib import Path

import dagster as dg

from warehouse_platform.catalog import load_catalog
from warehouse_platform.export import assets as export_assets
from warehouse_platform.quality import inputs_freshness
from warehouse_platform.transform import assets as transform_assets


def analytics_definitions(dbt_project_dir: Path | None = None) -> dg.Definitions:
    """dbt_project/ unless another project is given (a test's copy with extra models); its
    sources are the table catalog's tables."""
    catalog = load_catalog()
    models = transform_assets.build_defs(catalog, dbt_project_dir)
    columns = {
        spec.key.path[-1]: spec.metadata["dagster/column_schema"]
        for assets_def in models.assets for spec in assets_def.specs if "dagster/column_schema" in spec.metadata
    }
    model_specs = [spec for assets_def in models.assets for spec in assets_def.specs]
    return dg.Definitions.merge(
        models, export_assets.build_defs(columns), inputs_freshness.build_defs(model_specs, catalog)
    )


@dg.definitions
def defs() -> dg.Definitions:
    return analytics_definitions()
