"""Catalog entries drafted from a source table's own catalog (`warehouse-platform catalog
scaffold`), and where a declared entry and its source disagree (`catalog diff`).

The draft is for a person to review and paste: the contract stays explicit in the YAML, and
every guess is said as a comment beside it (a width chosen from today's widest value, a day
column picked by its name). Reading the source is a few catalog queries through a `query`
function (SQL, parameters) -> rows, so this module stays free of any driver.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from warehouse_platform.contract.column_types import SourceType, parse_type, type_kind, warehouse_type_for_source
from warehouse_platform.contract.table_spec import TableSpec

# Below this many rows a table is replaced whole on every load and copied to every node (ALL):
# the bound the skew check's advice uses too.
from warehouse_platform.rules.skew import SMALL_TABLE_ROWS

Query = Callable[[str, dict], list[tuple]]

# A column whose name says it moves forward whenever the row changes: the incremental cursor.
_UPDATED_LIKE = re.compile(r"^(updated|modified|changed|last_update|last_modified)(_at|_on|_time|_ts|d)?$|^last_update$")
# A column whose name says when the row happened: the day a row belongs to.
_HAPPENED_LIKE = re.compile(r"^(created|inserted|occurred|event|paid|ordered|rental|payment|happened)?_?(at|on|ts|time|date)$|_(at|ts|date|time)$")


@dataclass(frozen=True)
class SourceColumnInfo:
    name: str
    type: SourceType
    nullable: bool
    comment: str | None = None
    widest_bytes: int | None = None  # unbounded text: the widest value the source holds now


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    references: str  # schema.table
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True)
class SourceTable:
    schema: str
    name: str
    columns: tuple[SourceColumnInfo, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    # Columns of this table other tables' foreign keys point at (their joins come here).
    referenced_by: tuple[str, ...] = ()
    comment: str | None = None
    rows: int = 0  # the planner's estimate
    total_bytes: int = 0

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"


# -- reading the source's catalog (Postgres) -----------------------------------------------------

_COLUMNS_SQL = (
    "SELECT c.column_name, c.data_type, c.udt_name, c.character_maximum_length, c.numeric_precision, c.numeric_scale, "
    "t.typtype, c.is_nullable = 'YES', col_description(cls.oid, c.ordinal_position::int) "
    "FROM information_schema.columns c "
    "JOIN pg_catalog.pg_namespace ns ON ns.nspname = c.table_schema "
    "JOIN pg_catalog.pg_class cls ON cls.relname = c.table_name AND cls.relnamespace = ns.oid "
    "LEFT JOIN pg_catalog.pg_namespace tn ON tn.nspname = c.udt_schema "
    "LEFT JOIN pg_catalog.pg_type t ON t.typname = c.udt_name AND t.typnamespace = tn.oid "
    "WHERE c.table_schema = %(schema)s AND c.table_name = %(table)s ORDER BY c.ordinal_position"
)
_CONSTRAINTS_SQL = (
    "SELECT con.contype, ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i) "
    "  JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i), "
    "fns.nspname::text || '.' || fcls.relname::text, "
    "ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i) "
    "  JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) "
    "FROM pg_catalog.pg_constraint con "
    "JOIN pg_catalog.pg_class cls ON cls.oid = con.conrelid JOIN pg_catalog.pg_namespace ns ON ns.oid = cls.relnamespace "
    "LEFT JOIN pg_catalog.pg_class fcls ON fcls.oid = con.confrelid "
    "LEFT JOIN pg_catalog.pg_namespace fns ON fns.oid = fcls.relnamespace "
    "WHERE ns.nspname = %(schema)s AND cls.relname = %(table)s AND con.contype IN ('p', 'f') ORDER BY con.conname"
)
_REFERENCED_BY_SQL = (
    "SELECT DISTINCT a.attname::text FROM pg_catalog.pg_constraint con "
    "JOIN pg_catalog.pg_class cls ON cls.oid = con.confrelid JOIN pg_catalog.pg_namespace ns ON ns.oid = cls.relnamespace "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = ANY(con.confkey) "
    "WHERE con.contype = 'f' AND ns.nspname = %(schema)s AND cls.relname = %(table)s ORDER BY 1"
)
_TABLE_SQL = (
    "SELECT obj_description(cls.oid, 'pg_class'), greatest(cls.reltuples, 0)::bigint, pg_total_relation_size(cls.oid) "
    "FROM pg_catalog.pg_class cls JOIN pg_catalog.pg_namespace ns ON ns.oid = cls.relnamespace "
    "WHERE ns.nspname = %(schema)s AND cls.relname = %(table)s"
)


def _quoted_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_source_table(query: Query, qualified: str) -> SourceTable:
    """A source table's columns, keys, comments and size, or ValueError if it has none."""
    schema, _, table = qualified.rpartition(".")
    params = {"schema": schema or "public", "table": table}
    found = query(_TABLE_SQL, params)
    if not found:
        raise ValueError(f"{qualified}: no such table in the source")
    comment, rows, total_bytes = found[0]
    columns = []
    for name, data_type, udt, length, precision, scale, typtype, nullable, col_comment in query(_COLUMNS_SQL, params):
        source_type = SourceType(data_type, udt or "", length, precision, scale, typtype)
        widest = None
        if type_kind(warehouse_type_for_source(source_type)[0]) == "text" and not length and typtype != "e":
            # Unbounded text: size the draft by the widest value held now (a reviewer widens it).
            relation = f"{_quoted_ident(params['schema'])}.{_quoted_ident(table)}"
            [(widest,)] = query(f"SELECT max(octet_length(CAST({_quoted_ident(name)} AS text))) FROM {relation}", {})
        columns.append(SourceColumnInfo(name, source_type, bool(nullable), col_comment, widest))
    primary_key, foreign_keys = (), []
    for kind, cols, references, referenced in query(_CONSTRAINTS_SQL, params):
        if kind == "p":
            primary_key = tuple(cols)
        else:
            foreign_keys.append(ForeignKey(tuple(cols), references, tuple(referenced)))
    referenced_by = tuple(r[0] for r in query(_REFERENCED_BY_SQL, params))
    return SourceTable(
        params["schema"], table, tuple(columns), primary_key, tuple(foreign_keys), referenced_by, comment,
        int(rows or 0), int(total_bytes or 0),
    )


# -- the draft entry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """What the draft proposes for how the table is read and laid out, and why."""

    partitioning: str | dict
    mode: str
    incremental: dict | None = None
    distribution: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def suggest(table: SourceTable) -> Suggestion:
    kinds = {c.name: type_kind(warehouse_type_for_source(c.type, c.widest_bytes)[0]) for c in table.columns}
    timely = [c.name for c in table.columns if kinds[c.name] in ("timestamp", "timestamptz", "date")]
    cursor = next((n for n in timely if _UPDATED_LIKE.match(n.lower())), None)
    happened = next((n for n in timely if n != cursor and _HAPPENED_LIKE.search(n.lower())), None)
    small = table.rows < SMALL_TABLE_ROWS
    notes = []
    incremental = None
    if cursor is not None:
        incremental = {"cursor": cursor, "lookback_days": 1}
        partitioning: str | dict = "whole_table"
        mode = "upsert"
        notes.append(f"{cursor} looks like it moves whenever a row changes: read incrementally and upserted by key")
    elif happened is not None and not small:
        partitioning, mode = {"daily_by": happened}, "replace"
        notes.append(f"{happened} looks like when a row happened: one partition a day by it")
    else:
        partitioning, mode = "whole_table", "replace"
        if happened is not None:
            notes.append(f"about {table.rows:,} rows: replaced whole; {{daily_by: {happened}}} once it grows")
    joins = list(dict.fromkeys([*(c for fk in table.foreign_keys for c in fk.columns), *table.referenced_by]))
    if small:
        distribution: dict = {"style": "ALL"}
        notes.append(f"about {table.rows:,} rows ({table.total_bytes:,} bytes): small, a copy on every node")
    elif len(table.primary_key) == 1 and table.primary_key[0] in table.referenced_by:
        distribution = {"style": "KEY", "key": table.primary_key[0]}
        notes.append(f"other tables join on {table.primary_key[0]}: distributed by it")
    elif table.foreign_keys and len(table.foreign_keys[0].columns) == 1:
        distribution = {"style": "KEY", "key": table.foreign_keys[0].columns[0]}
        notes.append(f"joins {table.foreign_keys[0].references} on {table.foreign_keys[0].columns[0]}: distributed by it")
    else:
        distribution = {"style": "AUTO"}
    sort = cursor or (partitioning["daily_by"] if isinstance(partitioning, dict) else None)
    if sort:
        distribution["sort_key"] = [sort]
    joins = [j for j in joins if j != distribution.get("key")]
    if joins:
        distribution["join_columns"] = joins
    return Suggestion(partitioning, mode, incremental, distribution, tuple(notes))


def _scalar(value) -> str:
    """A YAML flow scalar: plain where YAML reads it back as the same string, quoted otherwise
    (a type with a comma, `numeric(12,2)`, must be quoted inside { })."""
    if isinstance(value, bool) or isinstance(value, int):
        return json.dumps(value)
    text = str(value)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ ()./@-]*", text) and text.strip() == text and text.lower() not in (
        "true", "false", "null", "yes", "no", "on", "off", "~",
    ):
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow(mapping: dict) -> str:
    items = []
    for key, value in mapping.items():
        if isinstance(value, list):
            items.append(f"{key}: [{', '.join(_scalar(v) for v in value)}]")
        elif isinstance(value, dict):
            items.append(f"{key}: {_flow(value)}")
        else:
            items.append(f"{key}: {_scalar(value)}")
    return "{" + ", ".join(items) + "}"


def entry_name(table: SourceTable) -> str:
    return table.name.lower()


def scaffold_entry(table: SourceTable) -> str:
    """One catalog entry as YAML text, indented to sit under `tables:` in defs.yaml."""
    plan = suggest(table)
    lines = [f"# drafted from {table.qualified_name} by `warehouse-platform catalog scaffold`: review before use"]
    lines += [f"# {note}" for note in plan.notes]
    lines.append(f"- name: {_scalar(entry_name(table))}")
    description = table.comment or f"TODO: what a row of {table.qualified_name} is."
    lines.append(f"  description: {_scalar(description)}")
    lines.append(f"  source: {_flow({'table': table.qualified_name})}")
    partitioning = plan.partitioning if isinstance(plan.partitioning, str) else _flow(plan.partitioning)
    lines.append(f"  partitioning: {partitioning}")
    lines.append("  columns:")
    for column in table.columns:
        declared, note = warehouse_type_for_source(column.type, column.widest_bytes)
        fields: dict = {"name": column.name, "type": declared}
        if not column.nullable:
            fields["nullable"] = False
        fields["description"] = column.comment or f"TODO: {column.name}."
        lines.append(f"    - {_flow(fields)}" + (f"  # {note}" if note else ""))
    if table.primary_key:
        lines.append(f"  primary_key: [{', '.join(_scalar(k) for k in table.primary_key)}]")
    else:
        lines.append("  primary_key: []  # TODO: the source declares no primary key; name the columns that identify a row")
    lines.append(f"  mode: {plan.mode}")
    if plan.incremental:
        lines.append(f"  incremental: {_flow(plan.incremental)}")
    lines.append(f"  distribution: {_flow(plan.distribution)}")
    return "\n".join(lines) + "\n"


def scaffold(tables: Sequence[SourceTable]) -> str:
    """Entries for several tables, each as `scaffold_entry` writes it, a blank line apart."""
    return "\n".join(scaffold_entry(t) for t in tables)


# -- where the catalog and the source disagree ---------------------------------------------------


def disagreements(spec: TableSpec, table: SourceTable) -> list[str]:
    """What the source says that the entry does not: columns missing or new, another kind of type,
    a NOT NULL declared over a nullable source column, text wider in the source than declared,
    another primary key."""
    found = []
    by_name = {c.name: c for c in table.columns}
    for column in spec.columns:
        source = by_name.get(column.name)
        if source is None:
            found.append(f"{column.name}: declared, but {table.qualified_name} has no such column")
            continue
        mapped = warehouse_type_for_source(source.type, source.widest_bytes)[0]
        if type_kind(mapped) != type_kind(column.sql_type):
            found.append(f"{column.name}: declared {column.sql_type}, the source's {source.type.data_type} maps to {mapped}")
        elif type_kind(mapped) == "text" and source.type.char_length:
            # Fewer bytes than the source's characters is too narrow for any text; between n and
            # 4n bytes holds ASCII, and the stage's width check names any wider value.
            declared = parse_type(column.sql_type).length
            if declared < source.type.char_length:
                found.append(
                    f"{column.name}: declared {column.sql_type}, narrower than the source's "
                    f"{source.type.data_type}({source.type.char_length}) (up to {parse_type(mapped).length} bytes)"
                )
        if not column.nullable and source.nullable:
            found.append(f"{column.name}: declared NOT NULL, the source allows NULL")
    for name in by_name:
        if name not in spec.column_names:
            found.append(f"{name}: in {table.qualified_name}, not declared")
    if table.primary_key and tuple(table.primary_key) != tuple(spec.primary_key):
        found.append(f"primary key: declared {list(spec.primary_key)}, the source's is {list(table.primary_key)}")
    return [f"{spec.qualified_name}: {line}" for line in found]
