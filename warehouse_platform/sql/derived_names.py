"""Every warehouse name the platform derives from a table's declared name, in one list, so the
catalog can prove them distinct before anything runs.

Each is fitted into Postgres' 63 bytes by contract/identifiers.fit_identifier where it is built
(partition_swap, load, ddl); here they are only gathered. The stage folder (`<schema>/<name>/`)
and the asset keys (`stage/<schema>/<name>`, `<schema>/<name>`) are the declared name itself,
which is unique in the catalog and at most 63 bytes, so they need no entry of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.sql.ddl import held_back_schema
from warehouse_platform.sql.load import staging_table_name
from warehouse_platform.sql.partition_swap import load_table_name, partition_table_name, partitions_schema

# A day and a load id stand for all: within a kind the suffix is the same for every table, so two
# tables share a name on this day (this load id) exactly when they share it on every day.
_ANY_DAY = date(2000, 1, 1)
_ANY_LOAD_ID = 1


def derived_names(spec: TableSpec) -> dict[str, str]:
    """What each derived name is called, for this table (kind -> qualified name)."""
    return {
        "table": f"{spec.schema}.{spec.name}",
        "day partition table": f"{partitions_schema(spec)}.{partition_table_name(spec, _ANY_DAY)}",
        "load table": f"{partitions_schema(spec)}.{load_table_name(spec, _ANY_LOAD_ID)}",
        "staging table": staging_table_name(spec),
        "held-back table": f"{held_back_schema(spec)}.{spec.name}",
        "landing folder": f"landing/{spec.landing_folder}/",
    }


def derived_name_collisions(specs: Sequence[TableSpec]) -> list[tuple[int, str]]:
    """(position, message) of each table one of whose derived names an earlier table already has."""
    owners: dict[tuple[str, str], str] = {}
    collisions = []
    for i, spec in enumerate(specs):
        for kind, name in derived_names(spec).items():
            if (kind, name) in owners and owners[kind, name] != spec.name:
                collisions.append((i, f"its {kind} {name} is also the {kind} of {owners[kind, name]!r}"))
            owners.setdefault((kind, name), spec.name)
    return collisions
