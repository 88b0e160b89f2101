"""analytics: the tables analysts query, built by dbt from raw_data.

dbt tests (unique, not_null, accepted_values, relationships) arrive as asset checks on the
models they test, with dbt's severity: `error` tests block, `warn` tests do not.
"""


from pathlib import Path

import dagster as dg
from dagster_dbt import dbt_assets

from warehouse_platform.lib.sql_quoting import quote_table
from warehouse_platform.transform.project import dbt_project
from warehouse_platform.transform.resources import WarehouseDbtCliResource
from warehouse_platform.transform.translator import WarehouseDbtTranslator


def build_defs(project_dir: Path | None = None) -> dg.Definitions:
    project = dbt_project(project_dir)

    @dbt_assets(manifest=project.manifest_path, project=project, dagster_dbt_translator=WarehouseDbtTranslator())
    def analytics_models(context: dg.AssetExecutionContext, dbt: WarehouseDbtCliResource):
        dbt.warehouse.ensure_schemas()
        for event in dbt.cli(["build"], context=context).stream():
            if isinstance(event, dg.Output):
                event = event.with_metadata({**event.metadata, "dagster/row_count": _row_count(context, dbt, event)})
            yield event

    return dg.Definitions(assets=[analytics_models])


def _row_count(context: dg.AssetExecutionContext, dbt: WarehouseDbtCliResource, output: dg.Output) -> int:
    """Counted on the warehouse the models were built in, by schema and table (the asset key).
    dagster-dbt's fetch_row_counts queries the relation named in the manifest prepared at load
    time, whose database is wherever that was (cross-database references fail on Postgres)."""
    schema, table = context.asset_key_for_output(output.output_name).path[-2:]
    [(rows,)] = dbt.warehouse.query(f"SELECT count(*) FROM {quote_table(schema, table)}")
    return int(rows)

