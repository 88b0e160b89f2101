"""How dbt nodes appear in Dagster: keys follow the warehouse path (schema, table).

A dbt source `raw_data.session_timestamp` gets the key ["raw_data", "session_timestamp"], the
exact key of the loading asset, so the graph shows raw -> analytics edges; a model in the
analytics schema gets ["analytics", <model>].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from warehouse_platform import environment
from warehouse_platform.asset_labels import ANALYTICS_OWNERS, layer_tags
from warehouse_platform.automation.conditions import rebuild_after_raw_loads
from warehouse_platform.quality.freshness import DAILY_FRESHNESS


class WarehouseDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["alias"] or dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props["schema"]

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.key.path[0] == "analytics":
            spec = spec.replace_attributes(freshness_policy=DAILY_FRESHNESS, automation_condition=rebuild_after_raw_loads)
            spec = spec.merge_attributes(owners=list(ANALYTICS_OWNERS), tags=layer_tags("analytics"))
        return spec.merge_attributes(kinds={environment.warehouse_kind()})
