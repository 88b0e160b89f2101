"""The declared columns of a table against the columns its source has now (schema evolution).

A column the source gained is either a failure naming it (on_new_column: fail, the default: the
contract is reviewed first) or added to the raw table (on_new_column: add). A declared column the
source no longer has, or has under another kind of type, always fails: loading on would put
NULLs or mangled values under a name analysts trust.

A column once added is part of the contract from then on, like a declared one (the platform keeps
it in the warehouse: sql/ddl.create_added_columns_sql says why there): the source losing it
fails the extract too, instead of every re-loaded day getting NULL in it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from warehouse_platform.contract.redshift_types import VARCHAR_MAX_BYTES
from warehouse_platform.contract.table_spec import Column, OnNewColumn, TableSpec

# Kinds of type: a source column may change within one (varchar(32) -> varchar(64), int -> bigint;
# the width check judges the values) but not across them.
_FAMILIES = {
    "integer": ("smallint", "int", "integer", "bigint", "int2", "int4", "int8"),
    "text": ("varchar", "character varying", "char", "character", "text", "bpchar", "nvarchar"),
    "boolean": ("boolean", "bool"),
    "timestamp": ("timestamp", "timestamp without time zone"),
    "timestamptz": ("timestamptz", "timestamp with time zone"),
    "date": ("date",),
    "decimal": ("numeric", "decimal"),
    "float": ("real", "double precision", "float", "float4", "float8"),
}

# Type OIDs a cursor's description reports (Postgres), for columns of a declared query.
_OID_TYPES = {
    16: "boolean", 20: "bigint", 21: "smallint", 23: "int", 25: "text", 1042: "char", 1043: "varchar",
    1082: "date", 1114: "timestamp", 1184: "timestamptz", 1700: "numeric", 700: "real", 701: "double precision",
}


def type_family(sql_type: str) -> str:
    base = sql_type.strip().lower().split("(")[0].strip()
    for family, names in _FAMILIES.items():
        if base in names:
            return family
    return base


@dataclass(frozen=True)
class SourceColumn:
    name: str
    # As a warehouse column would declare it (varchar(n) in bytes, int, timestamp ...).
    sql_type: str


def warehouse_type(data_type: str, char_length: int | None = None) -> str:
    """A Postgres source type (information_schema.columns.data_type, or a type name from a cursor)
    as a warehouse column type. Postgres counts varchar in characters, Redshift in bytes: a UTF-8
    character takes up to 4 bytes."""
    family = type_family(data_type)
    if family == "text":
        return f"varchar({min(4 * char_length, VARCHAR_MAX_BYTES) if char_length else VARCHAR_MAX_BYTES})"
    if family == "integer":
        return {"smallint": "smallint", "bigint": "bigint", "int8": "bigint", "int2": "smallint"}.get(data_type.lower(), "int")
    if family == "decimal":
        return "numeric(38, 10)"
    return {"float": "double precision"}.get(family, family)


def columns_from_description(description: Sequence) -> tuple[SourceColumn, ...]:
    """A psycopg2 cursor's description (name, type_code, display_size, internal_size, ...)."""
    columns = []
    for d in description:
        name = _OID_TYPES.get(d[1], "text")
        length = d[3] if name in ("varchar", "char") and d[3] and d[3] > 0 else None
        columns.append(SourceColumn(d[0], warehouse_type(name, length)))
    return tuple(columns)


@dataclass(frozen=True)
class Drift:
    new: tuple[SourceColumn, ...]
    missing: tuple[str, ...]
    retyped: tuple[tuple[str, str, str], ...]  # (column, declared, source)


def compare(spec: TableSpec, source_columns: Sequence[SourceColumn], ignore: Sequence[str] = ()) -> Drift:
    """`ignore`: source columns that are not data (the day column a query adds only for the window)."""
    by_name = {c.name: c for c in source_columns}
    declared = set(spec.column_names)
    return Drift(
        new=tuple(c for c in source_columns if c.name not in declared and c.name not in ignore),
        missing=tuple(c.name for c in spec.columns if c.name not in by_name),
        retyped=tuple(
            (c.name, c.sql_type, by_name[c.name].sql_type)
            for c in spec.columns
            if c.name in by_name and type_family(c.sql_type) != type_family(by_name[c.name].sql_type)
        ),
    )


def resolve(spec: TableSpec, drift: Drift, added_before: Sequence[str] = ()) -> tuple[Column, ...]:
    """The columns to add to the table (on_new_column: add), or ValueError naming every problem.
    `added_before`: the columns of `spec` the platform added earlier (kept_added_columns); one the
    source lost fails like a declared one, saying how to end it on purpose."""
    source = spec.source.table or "the declared query" if spec.source else "the source"
    problems = []
    if missing := [m for m in drift.missing if m not in added_before]:
        problems.append(f"declared columns {missing} are missing from {source}")
    for name in (m for m in drift.missing if m in added_before):
        problems.append(
            f"column {name!r}, added to the table by on_new_column: add and part of its contract since, is missing "
            f"from {source}; loading on would put NULL in it for every day loaded. Restore it in the source, or "
            f"end it deliberately: ALTER TABLE {spec.qualified_name} DROP COLUMN {name} (its values go with it)"
        )
    for name, declared, found in drift.retyped:
        problems.append(f"column {name!r} is declared {declared} but {source} now has {found}")
    if drift.new and spec.on_new_column == OnNewColumn.FAIL:
        problems.append(
            f"{source} has columns the contract does not declare: {[c.name for c in drift.new]} "
            "(declare them, or set on_new_column: add to load them)"
        )
    if problems:
        # The caller names the table and day, and what was not done (extract/assets.py _refuse).
        raise ValueError("; ".join(problems))
    return tuple(added_column(c.name, c.sql_type) for c in drift.new)


# The types an added column can have: what warehouse_type writes (a name, maybe with a length or a
# precision and scale). The type reaches DDL as text, and it is read back from a manifest and from
# the warehouse's record of added columns, so it is held to this before it is used.
_ADDED_TYPE = re.compile(r"[a-z][a-z0-9 ]*(\(\d+(, ?\d+)?\))?")


def added_column(name: str, sql_type: str) -> Column:
    if not _ADDED_TYPE.fullmatch(sql_type):
        raise ValueError(f"column {name!r}: {sql_type!r} is not a type the platform adds a column with")
    return Column(name, sql_type, description="Added from the source (on_new_column: add).")


def kept_added_columns(spec: TableSpec, recorded: Sequence[tuple[str, str]], present: Sequence[str]) -> tuple[Column, ...]:
    """The columns the platform added to the table earlier that belong to its contract now: those
    recorded as added (name, type as added), in the table's order (`present`: its columns now),
    which the table still has (dropping one from the raw table is how it is ended on purpose)
    and the catalog does not declare (once declared, the declaration rules, type included)."""
    types = dict(recorded)  # a column re-added after a drop: its newest record wins
    declared = set(spec.column_names)
    return tuple(added_column(name, types[name]) for name in present if name in types and name not in declared)


def source_columns_sql() -> str:
    """The columns of a source table, in order (information_schema: Postgres and Redshift alike)."""
    return (
        "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
        "WHERE table_schema = %(schema)s AND table_name = %(table)s ORDER BY ordinal_position"
    )
