"""analytics: the tables analysts query, built by dbt from raw_data.

dbt tests (unique, not_null, accepted_values, relationships) arrive as asset checks on the
models they test, with dbt's severity: `error` tests block, `warn` tests do not.
"""


import dagster as dg
from dagster_dbt import dbt_assets

from warehouse_platform.transform.project import dbt_project
from warehouse_platform.transform.resources import WarehouseDbtCliResource
from warehouse_platform.transform.translator import WarehouseDbtTranslator


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=WarehouseDbtTranslator())
def analytics_models(context: dg.AssetExecutionContext, dbt: WarehouseDbtCliResource):
    dbt.warehouse.ensure_schemas()
    yield from dbt.cli(["build"], context=context).stream().fetch_row_counts()


defs = dg.Definitions(assets=[analytics_models])
