"""How dbt nodes appear in Dagster: keys follow the warehouse path (schema, table).

A dbt source `raw_data.session_timestamp` gets the key ["raw_data", "session_timestamp"], the
exact key of the loading asset, so the graph shows raw -> analytics edges; a model in the
analytics schema gets ["analytics", <model>].

A model's page shows what schema.yml says (transform/dbt_docs.py keeps it complete): its
description (markdown, without the SQL pasted under it), every column with its type and
description, each test's description on its check; the SQL file is a code reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings
from dagster_dbt.asset_utils import DAGSTER_DBT_PROJECT_METADATA_KEY
from dagster_shared.record import replace

from warehouse_platform import settings
from warehouse_platform.conventions.automation_conditions import rebuild_after_raw_loads
from warehouse_platform.conventions.labels import (
    ANALYTICS_OWNERS,
    layer_tags,
    warehouse_table_name,
)


class WarehouseDbtTranslator(DagsterDbtTranslator):
    def __init__(self, project_dir: Path | None = None) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
        # Where the model files are, for their code references.
        self._project_dir = project_dir

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["alias"] or dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props["schema"]

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        # dagster-dbt's default appends the raw SQL as a markdown block, which the catalog lists
        # as literal text; the SQL is a code reference instead.
        return dbt_resource_props.get("description") or f"dbt {dbt_resource_props['resource_type']} {dbt_resource_props['name']}"

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        metadata = dict(super().get_metadata(dbt_resource_props))
        if dbt_resource_props["resource_type"] != "source":
            metadata["dagster/table_name"] = warehouse_table_name(
                dbt_resource_props["schema"], dbt_resource_props["alias"] or dbt_resource_props["name"]
            )
        return metadata

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        # The DbtProject object is bookkeeping dagster-dbt puts in the definition's metadata; the
        # UI cannot serialize it and showed "[DbtProject] (unserializable)". Without it the dbt
        # resource's own project directory is used, which is the same project.
        metadata = {k: v for k, v in spec.metadata.items() if k != DAGSTER_DBT_PROJECT_METADATA_KEY}
        node = manifest["nodes"].get(unique_id)
        if node is not None and self._project_dir is not None and node.get("original_file_path"):
            metadata["dagster/code_references"] = dg.CodeReferencesMetadataValue(
                code_references=[dg.LocalFileCodeReference(
                    file_path=str(self._project_dir / node["original_file_path"]), line_number=1, label="model SQL",
                )]
            )
        spec = spec.replace_attributes(metadata=metadata)
        if spec.key.path[0] == "analytics":
            # No FreshnessPolicy: Dagster's judges only the model's own build, and a rebuild over
            # weeks-old inputs would read "Passing". A model's freshness is its inputs' (the check
            # inputs_fresh, quality/inputs_freshness.py).
            spec = spec.replace_attributes(automation_condition=rebuild_after_raw_loads)
            spec = spec.merge_attributes(owners=list(ANALYTICS_OWNERS), tags=layer_tags("analytics"))
        return spec.merge_attributes(kinds={settings.warehouse_kind()})

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project) -> dg.AssetCheckSpec | None:
        check = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if check is None:
            return None
        # dbt 1.9+ gives data tests a `description:` in schema.yml; dagster-dbt only reads
        # `meta.description`.
        description = manifest["nodes"][unique_id].get("description") or check.description
        return replace(check, description=description)
