"""Every table's asset keys, from its declaration: keys follow storage paths, so
`stage/raw_data/<table>` is the stage folder raw_data/<table>/ and `raw_data/<table>` the
warehouse table raw_data.<table> (also the key of the matching dbt source). One function per
layer, used by every builder that names a table's asset (assets, checks, jobs, sensors)."""

from __future__ import annotations

import dagster as dg

from warehouse_platform.contract.table_spec import TableSpec


def source_asset_key(table: str) -> dg.AssetKey:
    """"app.transactions" -> source/app/transactions."""
    return dg.AssetKey(["source", *table.split(".")])


def stage_asset_key(spec: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(["stage", spec.schema, spec.name])


def raw_asset_key(spec: TableSpec) -> dg.AssetKey:
    return dg.AssetKey([spec.schema, spec.name])
