"""Postgres statements for loading a day by swapping in a freshly loaded partition table.

A day's rows are COPYed (in parallel) into a new table outside the target; once checked and
deduplicated it replaces the day's old partition in one transaction (detach + drop + attach).
Nothing is written twice, and readers see the old day until the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from warehouse_platform.contract.table_spec import (
    LOAD_ID_COLUMN,
    PARTITION_COLUMN,
    TableSpec,
)
from warehouse_platform.sql.ddl import column_type
from warehouse_platform.sql.quoting import (
    quote_ident,
    quote_idents,
    quote_literal,
    quote_table,
)


def partitions_schema(spec: TableSpec) -> str:
    return partitions_schema_of(spec.schema)


def partitions_schema_of(schema: str) -> str:
    """Partition tables live beside, not in, the analysts' schema."""
    return f"{schema}_partitions"


def partition_table_name(spec: TableSpec, day: date) -> str:
    return f"{spec.name}__{day:%Y%m%d}"


_LOAD_MARK = "__load_"


def load_table_name(spec: TableSpec, load_id: int) -> str:
    return f"{spec.name}{_LOAD_MARK}{load_id:x}"


def parse_load_table_name(name: str) -> tuple[str, int] | None:
    """(table, load id) of a load table's name; None for anything else (a day's partition)."""
    table, mark, hex_id = name.rpartition(_LOAD_MARK)
    if not mark or not table or not hex_id or hex_id.strip("0123456789abcdef") or len(hex_id) > 16:
        return None
    return table, int(hex_id, 16)


# A load owns its load table through a session-level advisory lock on its load id, taken before
# the table is created and held until it is dropped or attached. A killed process's sessions
# end and release it, so "the lock is free" means "no live load owns this table".
def claim_load_sql() -> str:
    return "SELECT pg_advisory_lock(%(load_id)s)"


def try_claim_load_sql() -> str:
    return "SELECT pg_try_advisory_lock(%(load_id)s)"


def release_load_sql() -> str:
    return "SELECT pg_advisory_unlock(%(load_id)s)"


def tables_in_schema_sql() -> str:
    return (
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') ORDER BY c.relname"
    )


def create_load_table_sql(spec: TableSpec, table: str, day: date, load_id: int) -> list[str]:
    """The new day's table: the target's columns, with the day and load id as column defaults
    (COPY fills only the contract columns) and a CHECK that lets ATTACH skip its scan."""
    qualified = quote_table(partitions_schema(spec), table)
    day_literal = quote_literal(day.isoformat())
    return [
        f"CREATE SCHEMA IF NOT EXISTS {quote_ident(partitions_schema(spec))}",
        f"CREATE TABLE {qualified} (LIKE {quote_table(spec.schema, spec.name)} INCLUDING DEFAULTS)",
        f"ALTER TABLE {qualified} ALTER COLUMN {quote_ident(PARTITION_COLUMN.name)} SET DEFAULT {day_literal}, "
        f"ALTER COLUMN {quote_ident(LOAD_ID_COLUMN.name)} SET DEFAULT {int(load_id)}",
        f"ALTER TABLE {qualified} ADD CONSTRAINT {quote_ident(table + '_day')} "
        f"CHECK ({quote_ident(PARTITION_COLUMN.name)} = {day_literal}::date)",
    ]


def lock_parent_sql(spec: TableSpec) -> str:
    # SHARE ROW EXCLUSIVE conflicts with itself: one load of a table at a time, readers unaffected.
    return f"LOCK TABLE {quote_table(spec.schema, spec.name)} IN SHARE ROW EXCLUSIVE MODE"


def duplicate_keys_sql(spec: TableSpec, table: str) -> str:
    keys = quote_idents(spec.primary_key)
    return (
        f"SELECT {keys}, count(*) AS copies FROM {quote_table(partitions_schema(spec), table)} "
        f"GROUP BY {keys} HAVING count(*) > 1"
    )


def key_array_params(spec: TableSpec, name: str, keys: Sequence[Sequence]) -> dict[str, list]:
    """Keys (tuples, one value per key column) as one array parameter per key column, for
    `_keys_in`. Values may be text (keys read back from a manifest): the SQL casts them."""
    return {f"{name}_{i}": [key[i] for key in keys] for i in range(len(spec.primary_key))}


def _keys_in(spec: TableSpec, name: str) -> str:
    """`(k1, k2) IN (SELECT * FROM unnest(%(name_0)s::type1[], ...))`: any key type, any number of
    key columns, each array cast to its column's type (an integer key compared with text fails)."""
    arrays = ", ".join(
        f"%({name}_{i})s::{column_type(spec.column(k), 'postgres')}[]" for i, k in enumerate(spec.primary_key)
    )
    return f"({quote_idents(spec.primary_key)}) IN (SELECT * FROM unnest({arrays}))"


def duplicate_candidates_sql(spec: TableSpec, table: str) -> str:
    """Like duplicate_keys_sql, over only the candidate keys the stage flagged (parameters from
    key_array_params("candidates", ...))."""
    keys = quote_idents(spec.primary_key)
    return (
        f"SELECT {keys}, count(*) AS copies FROM {quote_table(partitions_schema(spec), table)} "
        f"WHERE {_keys_in(spec, 'candidates')} GROUP BY {keys} HAVING count(*) > 1"
    )


def delete_duplicates_sql(spec: TableSpec, table: str, order_by: str) -> str:
    """Keep the first row (by `order_by`) of each duplicated key (parameters from
    key_array_params("duplicates", ...)); delete the others."""
    qualified = quote_table(partitions_schema(spec), table)
    return (
        f"DELETE FROM {qualified} WHERE ctid IN ("
        f"SELECT ctid FROM (SELECT ctid, ROW_NUMBER() OVER (PARTITION BY {quote_idents(spec.primary_key)} "
        f"ORDER BY {order_by}) AS r FROM {qualified} WHERE {_keys_in(spec, 'duplicates')}) ranked WHERE r > 1)"
    )


def delete_keys_in_other_days_sql(spec: TableSpec, table: str) -> str:
    """Upsert across days: a key loaded today leaves whichever other day held it."""
    target = quote_table(spec.schema, spec.name)
    match = " AND ".join(f"t.{quote_ident(k)} = s.{quote_ident(k)}" for k in spec.primary_key)
    return (
        f"DELETE FROM {target} t USING {quote_table(partitions_schema(spec), table)} s "
        f"WHERE {match} AND t.{quote_ident(PARTITION_COLUMN.name)} <> %(partition_date)s"
    )


def find_day_partition_sql() -> str:
    return (
        "SELECT n.nspname, c.relname FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE i.inhparent = %(parent)s::regclass "
        "AND pg_get_expr(c.relpartbound, c.oid) = %(bound)s"
    )


def partition_bound(day: date) -> str:
    return f"FOR VALUES IN ('{day.isoformat()}')"


def create_day_partition_sql(spec: TableSpec, day: date) -> list[str]:
    """An empty partition for a day that a staging-table load (an append) inserts into: the
    parent has no default partition, which would make every swap's ATTACH scan it."""
    return [
        f"CREATE SCHEMA IF NOT EXISTS {quote_ident(partitions_schema(spec))}",
        f"CREATE TABLE IF NOT EXISTS {quote_table(partitions_schema(spec), partition_table_name(spec, day))} "
        f"PARTITION OF {quote_table(spec.schema, spec.name)} {partition_bound(day)}",
    ]


def detach_and_drop_sql(spec: TableSpec, schema: str, table: str) -> list[str]:
    return [
        f"ALTER TABLE {quote_table(spec.schema, spec.name)} DETACH PARTITION {quote_table(schema, table)}",
        f"DROP TABLE {quote_table(schema, table)}",
    ]


def attach_sql(spec: TableSpec, load_table: str, day: date) -> list[str]:
    final = partition_table_name(spec, day)
    return [
        f"ALTER TABLE {quote_table(partitions_schema(spec), load_table)} RENAME TO {quote_ident(final)}",
        f"ALTER TABLE {quote_table(spec.schema, spec.name)} ATTACH PARTITION "
        f"{quote_table(partitions_schema(spec), final)} {partition_bound(day)}",
    ]


def drop_load_table_sql(schema: str, table: str) -> str:
    """`schema`: the partitions schema the load table is in."""
    return f"DROP TABLE IF EXISTS {quote_table(schema, table)}"


def relkind_sql() -> str:
    return "SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(%(table)s)"
