"""What the UI shows about every asset besides its data: who answers for it, which layer it is
in, and the warehouse table it is. One function per fact, used by every asset builder."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from warehouse_platform import settings

# dbt models and their exports belong to the analysts (raw tables take theirs from the catalog).
ANALYTICS_OWNERS = ("team:analytics",)

Layer = Literal["source", "stage", "raw", "analytics", "export"]
LAYER_TAG = "layer"


def layer_tags(layer: Layer) -> dict[str, str]:
    """The tag the asset catalog filters on: where in the flow source -> stage -> raw ->
    analytics -> export the asset sits."""
    return {LAYER_TAG: layer}


def warehouse_table_name(schema: str, table: str) -> str:
    """`dagster/table_name`: the fully qualified name an analyst queries, <database>.<schema>.<table>."""
    return f"{settings.warehouse_database()}.{schema}.{table}"


def owners_of(owner_lists: Iterable[Iterable[str]]) -> list[str]:
    """The owners of an asset several tables share (an application table read by several
    raw tables): each owner once, in order of first appearance."""
    return list(dict.fromkeys(o for owners in owner_lists for o in owners))
