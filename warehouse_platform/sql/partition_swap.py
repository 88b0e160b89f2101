"""Postgres statements for loading a day by swapping in a freshly loaded partition table.

A day's rows are COPYed (in parallel) into a new table outside the target; once checked and
deduplicated it replaces the day's old partition in one transaction (detach + drop + attach).
Nothing is written twice, and readers see the old day until the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from warehouse_platform.contract.identifiers import fit_identifier
from warehouse_platform.contract.table_spec import (
    LOAD_ID_COLUMN,
    PARTITION_COLUMN,
    DeleteKind,
    TableSpec,
)
from warehouse_platform.sql.key_sets import keys_in_sql
from warehouse_platform.sql.load import key_match_sql, newer_row_sql, row_day_sql, written_by_held_loads_sql
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
    return fit_identifier(schema, "_partitions")


def partition_table_name(spec: TableSpec, day: date) -> str:
    return fit_identifier(spec.name, f"__{day:%Y%m%d}")


_LOAD_MARK = "__load_"


def load_table_name(spec: TableSpec, load_id: int) -> str:
    return load_table_name_of(spec.name, load_id)


def load_table_name_of(table: str, load_id: int) -> str:
    # The id in a fixed width, so a long table's fitted stem is the same for every load of it.
    return fit_identifier(table, f"{_LOAD_MARK}{load_id:016x}")


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


def duplicate_candidates_sql(spec: TableSpec, table: str) -> str:
    """Like duplicate_keys_sql, over only the candidate keys the stage flagged (parameters from
    key_sets.key_array_params("candidates", ...))."""
    keys = quote_idents(spec.primary_key)
    return (
        f"SELECT {keys}, count(*) AS copies FROM {quote_table(partitions_schema(spec), table)} "
        f"WHERE {keys_in_sql(spec, 'candidates')} GROUP BY {keys} HAVING count(*) > 1"
    )


def delete_duplicates_sql(spec: TableSpec, table: str, order_by: str) -> str:
    """Keep the first row (by `order_by`) of each duplicated key (parameters from
    key_sets.key_array_params("duplicates", ...)); delete the others."""
    qualified = quote_table(partitions_schema(spec), table)
    return (
        f"DELETE FROM {qualified} WHERE ctid IN ("
        f"SELECT ctid FROM (SELECT ctid, ROW_NUMBER() OVER (PARTITION BY {quote_idents(spec.primary_key)} "
        f"ORDER BY {order_by}) AS r FROM {qualified} WHERE {keys_in_sql(spec, 'duplicates')}) ranked WHERE r > 1)"
    )


def delete_keys_in_other_days_sql(spec: TableSpec, table: str) -> str:
    """Upsert across days: a key loaded today leaves whichever other day held it."""
    target = quote_table(spec.schema, spec.name)
    match = " AND ".join(f"t.{quote_ident(k)} = s.{quote_ident(k)}" for k in spec.primary_key)
    return (
        f"DELETE FROM {target} t USING {quote_table(partitions_schema(spec), table)} s "
        f"WHERE {match} AND t.{quote_ident(PARTITION_COLUMN.name)} <> %(partition_date)s"
    )


def keep_newer_rows_of_the_day_sql(spec: TableSpec, table: str) -> str:
    """A key the day already holds in a newer version than the batch offers keeps the day's row:
    the offered row takes its values (and its load id), so the swap puts the newer row back."""
    load = quote_table(partitions_schema(spec), table)
    target = quote_table(spec.schema, spec.name)
    columns = [*spec.column_names, LOAD_ID_COLUMN.name]
    assignments = ", ".join(f"{quote_ident(c)} = t.{quote_ident(c)}" for c in columns)
    return (
        f"UPDATE {load} s SET {assignments} FROM {target} t "
        f"WHERE {key_match_sql(spec, 't', 's')} AND t.{quote_ident(PARTITION_COLUMN.name)} = %(partition_date)s "
        f"AND {newer_row_sql(spec, 't')}"
    )


def carry_over_unknown_rows_sql(spec: TableSpec, table: str, load_ids: Sequence[int]) -> str:
    """Rows the day holds that the batch's extract never saw (written by a load it did not see:
    a key moved here by another day's load after this batch read the source) stay in the day."""
    load = quote_table(partitions_schema(spec), table)
    target = quote_table(spec.schema, spec.name)
    columns = quote_idents([*spec.column_names, LOAD_ID_COLUMN.name])
    t_columns = ", ".join(f"t.{quote_ident(c)}" for c in [*spec.column_names, LOAD_ID_COLUMN.name])
    return (
        f"INSERT INTO {load} ({columns}) SELECT {t_columns} FROM {target} t "
        f"WHERE t.{quote_ident(PARTITION_COLUMN.name)} = %(partition_date)s "
        f"AND NOT {written_by_held_loads_sql('t', load_ids)} "
        f"AND NOT EXISTS (SELECT 1 FROM {load} s WHERE {key_match_sql(spec, 't', 's')})"
    )


def _known_rows_not_offered(spec: TableSpec, table: str, load_ids: Sequence[int] | None) -> str:
    """The day's rows the batch's extract knew of (all of them without its view of the day),
    whose key the batch does not offer in any day: keys the source no longer holds."""
    load = quote_table(partitions_schema(spec), table)
    known = f" AND {written_by_held_loads_sql('t', load_ids)}" if load_ids is not None else ""
    return (
        f"FROM {quote_table(spec.schema, spec.name)} t WHERE t.{quote_ident(PARTITION_COLUMN.name)} = %(partition_date)s"
        f"{known} AND NOT EXISTS (SELECT 1 FROM {load} s WHERE {key_match_sql(spec, 't', 's')})"
    )


def count_deleted_keys_sql(spec: TableSpec, table: str, load_ids: Sequence[int] | None) -> str:
    return f"SELECT count(*) {_known_rows_not_offered(spec, table, load_ids)}"


def keep_deleted_rows_sql(spec: TableSpec, table: str, load_ids: Sequence[int] | None) -> str:
    """Under `deletes: keep` or `soft(<column>)`, the day keeps the rows of keys the source no
    longer holds (soft: the column set, once, to when this read saw them gone)."""
    load = quote_table(partitions_schema(spec), table)
    columns = [*spec.column_names, LOAD_ID_COLUMN.name]
    values = [
        f"COALESCE(t.{quote_ident(c)}, %(read_at)s)" if spec.deletes.kind == DeleteKind.SOFT and c == spec.deletes.column
        else f"t.{quote_ident(c)}"
        for c in columns
    ]
    return f"INSERT INTO {load} ({quote_idents(columns)}) SELECT {', '.join(values)} {_known_rows_not_offered(spec, table, load_ids)}"


def moved_days_sql(spec: TableSpec, table: str) -> str:
    """The other days the load table's rows live in (rows of keys that moved, looked up by the
    extract): each needs its partition before the rows are routed there."""
    day = row_day_sql(spec)
    return (
        f"SELECT DISTINCT {day} FROM {quote_table(partitions_schema(spec), table)} "
        f"WHERE {day} <> %(partition_date)s ORDER BY 1"
    )


def route_moved_rows_sql(spec: TableSpec, table: str) -> list[str]:
    """Insert the rows of other days into the target (each reaches its own day's partition),
    then take them out of the day being swapped in."""
    source = quote_table(partitions_schema(spec), table)
    columns = quote_idents([*spec.column_names, LOAD_ID_COLUMN.name])
    day = row_day_sql(spec)
    return [
        f"INSERT INTO {quote_table(spec.schema, spec.name)} ({columns}, {quote_ident(PARTITION_COLUMN.name)}) "
        f"SELECT {columns}, {day} FROM {source} WHERE {day} <> %(partition_date)s",
        f"DELETE FROM {source} WHERE {day} <> %(partition_date)s",
    ]


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


def planner_statistics_sql(spec: TableSpec, day: date | None, parent_only: bool) -> list[str]:
    """What leaves a loaded Postgres table's planner statistics fresh, as Redshift's COPY does
    for the table it fills. Without them the planner guesses 200 distinct keys: the day's
    duplicate-key check, the first query after a load, then hashed 1M keys in 21 spilled
    batches and sorted them again (1.15 s; 0.38 s once analyzed). Autovacuum analyzes a day's
    partition in its own time but never a partitioned table's parent, whose statistics a
    query over every day (that check's GROUP BY) plans with. `day`: the day's partition (None
    for an unpartitioned table). `parent_only`: Postgres 18's ANALYZE ONLY, which samples the
    parent without analyzing every partition again; before 18 only the day's partition is
    analyzed, since recursing into a year of days would cost seconds a load."""
    if day is None:
        return [f"ANALYZE {quote_table(spec.schema, spec.name)}"]
    statements = [f"ANALYZE {quote_table(partitions_schema(spec), partition_table_name(spec, day))}"]
    if parent_only:
        statements.append(f"ANALYZE ONLY {quote_table(spec.schema, spec.name)}")
    return statements


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
