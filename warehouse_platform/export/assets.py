"""Exports: analytics tables written back to the stage for the systems that read files
(UNLOAD on Redshift, COPY ... TO STDOUT locally), as gzip CSV with a manifest."""

from collections.abc import Mapping

import dagster as dg

from warehouse_platform import settings
from warehouse_platform.conventions.automation_conditions import rebuild_after_raw_loads
from warehouse_platform.conventions.labels import ANALYTICS_OWNERS, layer_tags
from warehouse_platform.sql.export import ExportOptions
from warehouse_platform.sql.quoting import quote_table
from warehouse_platform.stage.storage import Stage
from warehouse_platform.warehouse.resources import Warehouse

EXPORTED_MODELS = {
    "channel_summary": "Channel performance per month, as a file for the marketing team's tools.",
    "mau": "Monthly active users, as a file for the finance dashboard.",
}


def _build_export_asset(model: str, description: str, columns: dg.TableSchema | None) -> dg.AssetsDefinition:
    @dg.asset(
        key=["stage", "exports", model],
        deps=[dg.AssetKey(["analytics", model])],
        description=f"{description}\n\nExported from analytics.{model} to the stage under exports/{model}/.",
        group_name="exports",
        kinds={settings.stage_kind(), "csv"},
        owners=list(ANALYTICS_OWNERS),
        tags=layer_tags("export"),
        automation_condition=rebuild_after_raw_loads,
        # The files carry the model's columns (SELECT *), as schema.yml documents them.
        metadata={"dagster/column_schema": columns} if columns else None,
    )
    def _export(context: dg.AssetExecutionContext, warehouse: Warehouse, stage: Stage) -> dg.MaterializeResult:
        batch, statement = warehouse.export_query(
            f"analytics.{model}", f"SELECT * FROM {quote_table('analytics', model)}", stage, f"exports/{model}", ExportOptions()
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": batch.row_count,
                "files": len(batch.parts),
                "compressed_bytes": batch.content_length,
                "manifest": dg.MetadataValue.url(batch.manifest_url),
                "statement": dg.MetadataValue.md(f"```sql\n{statement}\n```"),
            }
        )

    return _export


def build_defs(model_columns: Mapping[str, dg.TableSchema]) -> dg.Definitions:
    """`model_columns`: each analytics model's column schema, by model name."""
    return dg.Definitions(assets=[
        _build_export_asset(model, description, model_columns.get(model)) for model, description in EXPORTED_MODELS.items()
    ])
