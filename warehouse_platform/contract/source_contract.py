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

from collections.abc import Sequence
from dataclasses import dataclass

from warehouse_platform.contract.column_types import SourceType, parse_type, type_kind, warehouse_type_for_source
from warehouse_platform.contract.table_spec import Column, OnNewColumn, TableSpec

# Type OIDs a cursor's description reports (Postgres), for columns of a declared query, as
# information_schema names them; arrays by their element's OID family. An OID not listed (an enum
# or a composite type, whose OIDs are the database's own) reads as text.
_OID_TYPES = {
    16: "boolean", 17: "bytea", 20: "bigint", 21: "smallint", 23: "integer", 25: "text", 114: "json", 650: "cidr",
    700: "real", 701: "double precision", 869: "inet", 1042: "character", 1043: "character varying", 1082: "date",
    1083: "time without time zone", 1114: "timestamp without time zone", 1184: "timestamp with time zone",
    1700: "numeric", 2950: "uuid", 3802: "jsonb", 3614: "tsvector",
}
_ARRAY_OIDS = {199, 1000, 1001, 1005, 1007, 1009, 1014, 1015, 1016, 1021, 1022, 1041, 1115, 1182, 1183, 1185, 1231, 2951, 3807}


def type_family(sql_type: str) -> str:
    """The kind of a type (contract/column_types.KINDS): a column may change within one, not across."""
    return type_kind(sql_type)


@dataclass(frozen=True)
class SourceColumn:
    name: str
    # As a warehouse column would declare it (varchar(n) in bytes, int, timestamp ...).
    sql_type: str


def warehouse_type(source: SourceType) -> str:
    """A source column's type as the warehouse type that holds its values (the scaffold's map:
    contract/column_types.warehouse_type_for_source): an enum is text, an array or JSON super."""
    return warehouse_type_for_source(source)[0]


def columns_from_description(description: Sequence, kinds: dict[int, str] | None = None) -> tuple[SourceColumn, ...]:
    """A psycopg2 cursor's description (name, type_code, display_size, internal_size, ...).
    `kinds`: type_kinds_sql's answer for OIDs not listed above (an enum is `e`, a composite `c`,
    an array `A`)."""
    kinds = kinds or {}
    columns = []
    for d in description:
        kind = kinds.get(d[1])
        if d[1] in _ARRAY_OIDS or kind == "A":
            columns.append(SourceColumn(d[0], warehouse_type(SourceType("ARRAY"))))
            continue
        if d[1] not in _OID_TYPES and kind in ("e", "c"):
            columns.append(SourceColumn(d[0], warehouse_type(SourceType("USER-DEFINED", typtype=kind))))
            continue
        name = _OID_TYPES.get(d[1], "text")
        length = d[3] if name in ("character varying", "character") and d[3] and d[3] > 0 else None
        columns.append(SourceColumn(d[0], warehouse_type(SourceType(name, char_length=length))))
    return tuple(columns)


def type_kinds_sql() -> str:
    """Per type OID of %(oids)s: `A` for an array, else its typtype (`e` enum, `c` composite, `b` base)."""
    return (
        "SELECT oid::int, CASE WHEN typcategory = 'A' THEN 'A' ELSE typtype::text END "
        "FROM pg_catalog.pg_type WHERE oid = ANY(%(oids)s::oid[])"
    )


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


def added_column(name: str, sql_type: str) -> Column:
    """The type is read back from a manifest and from the warehouse's record of added columns, so
    it is held to the declared types' grammar (contract/column_types.py) before it is used."""
    try:
        parse_type(sql_type)
    except ValueError as error:
        raise ValueError(f"column {name!r}: {sql_type!r} is not a type the platform adds a column with ({error})") from None
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
    """The columns of a source table (Postgres), in order: name, then the parts of a SourceType
    (an enum or composite type is USER-DEFINED in information_schema; pg_type says which)."""
    return (
        "SELECT c.column_name, c.data_type, c.udt_name, c.character_maximum_length, c.numeric_precision, "
        "c.numeric_scale, t.typtype FROM information_schema.columns c "
        "LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = c.udt_schema "
        "LEFT JOIN pg_catalog.pg_type t ON t.typname = c.udt_name AND t.typnamespace = n.oid "
        "WHERE c.table_schema = %(schema)s AND c.table_name = %(table)s ORDER BY c.ordinal_position"
    )


def source_column(row: Sequence) -> SourceColumn:
    """One row of source_columns_sql as the column the warehouse would hold."""
    name, data_type, udt_name, length, precision, scale, typtype = row
    return SourceColumn(name, warehouse_type(SourceType(data_type, udt_name or "", length, precision, scale, typtype)))
