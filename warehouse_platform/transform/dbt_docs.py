"""Rules over dbt's manifest that make the model pages complete; no Dagster here.

- The manifest records the database it was parsed against (a profile's default, or whatever
  the image that built it had). Runs compile against this environment's warehouse database, and
  the column metadata fetched from the warehouse and the column lineage matched against the
  compiled SQL only line up when the manifest names the same database: `with_database` gives
  the manifest that database.
- Every model column is documented (name, data_type, description) and every data test says
  what its failure means: `undocumented` lists what is missing, naming the file and node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from warehouse_platform.sql.quoting import quote_ident

_RELATIONS = ("nodes", "sources")


def with_database(manifest: Mapping[str, Any], database: str) -> dict[str, Any]:
    """The manifest as if dbt had parsed it against `database`: every node's and source's
    `database`, and the relation names built from it (`"db"."schema"."table"`, quoted as dbt
    quotes them on Postgres and Redshift)."""
    moved: dict[str, Any] = dict(manifest)
    for section in _RELATIONS:
        moved[section] = {uid: _in_database(node, database) for uid, node in manifest.get(section, {}).items()}
    return moved


def _in_database(node: Mapping[str, Any], database: str) -> Mapping[str, Any]:
    if "database" not in node:
        return node
    node = {**node, "database": database}
    if node.get("relation_name"):
        table = node.get("identifier") if node["resource_type"] == "source" else node.get("alias") or node["name"]
        node["relation_name"] = ".".join(quote_ident(part) for part in (database, node["schema"], table))
    return node


def undocumented(manifest: Mapping[str, Any], package: str) -> list[str]:
    """What the project's own models and tests leave undocumented, one line each: a model
    without a description or without columns, a model column without a data_type or description, a test without
    a description."""
    missing = []
    for node in manifest.get("nodes", {}).values():
        if node.get("package_name") != package:
            continue
        # A model is documented in a .yml file (its patch); without one, name its SQL file.
        documented_in = (node.get("patch_path") or "").split("://", 1)[-1] or node["original_file_path"]
        where = f"{documented_in}: {node['resource_type']} {node['name']}"
        if node["resource_type"] == "model":
            if not (node.get("description") or "").strip():
                missing.append(f"{where} has no description")
            if not node.get("columns"):
                missing.append(f"{where} lists no columns")
            for column in node.get("columns", {}).values():
                for field in ("data_type", "description"):
                    if not (column.get(field) or "").strip():
                        missing.append(f"{where}: column {column['name']} has no {field}")
        elif node["resource_type"] == "test" and not (node.get("description") or "").strip():
            missing.append(f"{where} has no description")
    return missing
