"""DDL for warehouse tables in both dialects, generated from one TableSpec."""

from __future__ import annotations

from typing import Literal

from warehouse_platform.contract.catalog_rules import parse_default
from warehouse_platform.contract.identifiers import fit_identifier
from warehouse_platform.contract.redshift_types import (
    check_redshift_type,
    encoding_problem,
    postgres_type,
    redshift_type,
    varchar_bytes,
)
from warehouse_platform.contract.table_spec import (
    PARTITION_COLUMN,
    Column,
    DistStyle,
    TableSpec,
)
from warehouse_platform.sql.quoting import quote_ident, quote_idents, quote_literal, quote_table

Dialect = Literal["postgres", "redshift"]

WAREHOUSE_SCHEMAS = ("raw_data", "analytics", "adhoc")
LEDGER_TABLE = "_load_ledger"
# The platform-kept part of each table's contract: the columns on_new_column: add put in it.
ADDED_COLUMNS_TABLE = "_added_columns"


def held_back_schema(spec: TableSpec) -> str:
    """Where a table declaring key_window_days keeps the copies of keys a later day holds."""
    return fit_identifier(spec.schema, "_held_back")


def create_schema_sql(schema: str) -> str:
    return f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}"


def column_type(column: Column, dialect: Dialect, cut_text: bool = False) -> str:
    """`cut_text`: the table declares truncate_columns. Postgres then holds its text in unbounded
    varchar, since its varchar(n) counts characters and would refuse a value before the load cuts
    it to n bytes (sql/load.cut_text_sql); Redshift cuts in COPY itself."""
    if dialect == "redshift":
        return redshift_type(column.sql_type)
    if cut_text and varchar_bytes(column.sql_type) is not None:
        return "varchar"
    return postgres_type(column.sql_type)


# The default expressions (contract/catalog_rules.DEFAULT_EXPRESSIONS) in each dialect: the
# load's time in UTC, as Redshift's GETDATE() gives it; Postgres' now() is in the session's zone.
_DEFAULT_EXPRESSIONS = {
    ("now", "postgres"): "(now() AT TIME ZONE 'UTC')",
    ("now", "redshift"): "GETDATE()",
    ("today", "postgres"): "((now() AT TIME ZONE 'UTC')::date)",
    ("today", "redshift"): "TRUNC(GETDATE())",
}


def default_sql(column: Column, dialect: Dialect) -> str | None:
    """` DEFAULT ...` for a column declaring one, from the parsed default (a quoted literal or a
    known expression): the declared text itself is never written into the statement."""
    if column.default is None:
        return None
    parsed = parse_default(column.default, column.sql_type)
    if parsed.expression is not None:
        return f"DEFAULT {_DEFAULT_EXPRESSIONS[parsed.expression, dialect]}"
    return f"DEFAULT {parsed.literal if parsed.bare else quote_literal(parsed.literal)}"


def _column_sql(column: Column, dialect: Dialect, cut_text: bool = False) -> str:
    parts = [quote_ident(column.name), column_type(column, dialect, cut_text)]
    if (default := default_sql(column, dialect)) is not None:
        parts.append(default)
    if not column.nullable:
        parts.append("NOT NULL")
    if dialect == "redshift" and column.encoding:
        if problem := encoding_problem(column.encoding):  # a word from a closed list, never pasted
            raise ValueError(f"{column.name}: {problem}")
        parts.append(f"ENCODE {column.encoding.lower()}")
    return " ".join(parts)


def _distribution_sql(spec: TableSpec) -> str:
    clauses = [f"DISTSTYLE {spec.dist_style.value}"]
    if spec.dist_style == DistStyle.KEY:
        clauses.append(f"DISTKEY({quote_ident(spec.dist_key)})")
    if spec.sort_key:
        clauses.append(f"SORTKEY({quote_idents(spec.sort_key)})")
    return " ".join(clauses)


def create_table_sql(spec: TableSpec, dialect: Dialect) -> str:
    """CREATE TABLE for the target table.

    No PRIMARY KEY or UNIQUE constraint in either dialect: Redshift would accept one but never
    enforce it (and its planner would trust it), so uniqueness is the loader's dedupe and the
    duplicate-key check's job, and the local table must behave the same way.
    """
    sql = _create_table_sql(spec, dialect, quote_table(spec.schema, spec.name))
    if dialect == "postgres" and spec.partitioned:
        # Locally each day is its own Postgres partition, so replacing a day is a swap of
        # tables (see warehouse/partition_swap.py) instead of a delete plus a second write.
        sql += f"\nPARTITION BY LIST ({quote_ident(PARTITION_COLUMN.name)})"
    return sql


def _create_table_sql(spec: TableSpec, dialect: Dialect, qualified: str) -> str:
    if dialect == "redshift":
        for column in spec.table_columns:
            check_redshift_type(spec.qualified_name, column.name, column.sql_type)
    columns = ",\n    ".join(_column_sql(c, dialect, spec.truncate_columns) for c in spec.table_columns)
    sql = f"CREATE TABLE IF NOT EXISTS {qualified} (\n    {columns}\n)"
    if dialect == "redshift":
        sql += "\n" + _distribution_sql(spec)
    return sql


def create_held_back_table_sql(spec: TableSpec, dialect: Dialect) -> list[str]:
    """Tables declaring key_window_days: where the copies of a key that lost to a later day's copy
    are kept (sql/key_window.py), outside the analysts' schema. The target's columns, one plain
    table (few rows: only repeated keys; on Redshift distributed like the target)."""
    schema = held_back_schema(spec)
    return [create_schema_sql(schema), _create_table_sql(spec, dialect, quote_table(schema, spec.name))]


def create_ledger_sql(schema: str) -> str:
    """The load ledger: one row per file loaded, written in the same transaction as the rows."""
    return (
        f"CREATE TABLE IF NOT EXISTS {quote_table(schema, LEDGER_TABLE)} (\n"
        "    table_name varchar(256) NOT NULL,\n"
        "    partition_key varchar(64) NOT NULL,\n"
        "    file_url varchar(1024) NOT NULL,\n"
        "    checksum varchar(80) NOT NULL,\n"
        "    row_count bigint NOT NULL,\n"
        # rows the whole batch left in the partition, after in-batch duplicates were dropped (with
        # key_window_days: those held back for a later day's copy of their key included)
        "    batch_rows_loaded bigint NOT NULL,\n"
        "    load_id bigint NOT NULL,\n"
        "    run_id varchar(64) NOT NULL,\n"
        "    loaded_at timestamp NOT NULL,\n"
        # false once a later load of the same partition replaced this file's rows
        "    active boolean NOT NULL,\n"
        # the staged batch the file came from; batch ids sort by when their runs were requested
        "    batch_id varchar(128),\n"
        # when the extract read the source (its clock, UTC): a row read later is the source's
        # newer word on its key (sql/load.newer_row_sql); NULL for files that read no source
        "    read_at timestamp\n"
        ")"
    )


def upgrade_ledger_sql(schema: str) -> str:
    """Postgres only: a ledger created before batch ids and read stamps gains the columns
    (Redshift ledgers are created with them)."""
    ledger = quote_table(schema, LEDGER_TABLE)
    return f"ALTER TABLE {ledger} ADD COLUMN IF NOT EXISTS batch_id varchar(128), ADD COLUMN IF NOT EXISTS read_at timestamp"


def add_column_sql(spec: TableSpec, column: Column, dialect: Dialect, schema: str | None = None) -> str:
    """A column the source gained (on_new_column: add). Nullable: the rows already loaded have no
    value for it. Redshift adds one column per ALTER and has no IF NOT EXISTS, so the caller adds
    only what information_schema does not list."""
    if dialect == "redshift":
        check_redshift_type(spec.qualified_name, column.name, column.sql_type)
    return f"ALTER TABLE {quote_table(schema or spec.schema, spec.name)} ADD COLUMN {_column_sql(column, dialect)}"


def create_added_columns_sql(schema: str) -> str:
    """The columns the platform added to the schema's tables (on_new_column: add), one row per
    table and column, written in the same transaction as the ALTER TABLE that added it.

    Why a table in the warehouse, beside the raw tables, and not a write-back into the catalog:
    the catalog is the code location's source, read-only where it is deployed (an image, a
    checkout), and a run that rewrote it would leave the contract on one machine. The warehouse
    is what every run of every machine shares, on Redshift as locally; it holds the added
    column's data, so it holds the fact that the column belongs to the table too. The raw
    table's own columns alone would not do: they cannot tell a column the platform added from
    one an operator added or one a catalog entry stopped declaring, and their reported types
    are not the added type (Postgres stands in unbounded varchar for truncate_columns tables)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {quote_table(schema, ADDED_COLUMNS_TABLE)} (\n"
        "    table_name varchar(256) NOT NULL,\n"
        "    column_name varchar(128) NOT NULL,\n"
        # the warehouse type it was added with (source_contract.added_column checks it on read)
        "    sql_type varchar(128) NOT NULL,\n"
        "    added_at timestamp NOT NULL,\n"
        "    run_id varchar(64) NOT NULL\n"
        ")"
    )


def added_columns_sql(schema: str) -> str:
    """The columns recorded as added to %(table)s (its qualified name), oldest first."""
    return (
        f"SELECT column_name, sql_type FROM {quote_table(schema, ADDED_COLUMNS_TABLE)} "
        "WHERE table_name = %(table)s ORDER BY added_at, column_name"
    )


def forget_added_column_sql(schema: str) -> str:
    """Before a column is recorded (again): a record left from a column the table no longer has
    (dropped deliberately, then re-added by the source) must not keep its old type."""
    return f"DELETE FROM {quote_table(schema, ADDED_COLUMNS_TABLE)} WHERE table_name = %(table)s AND column_name = %(column)s"


def record_added_column_sql(schema: str) -> str:
    return (
        f"INSERT INTO {quote_table(schema, ADDED_COLUMNS_TABLE)} (table_name, column_name, sql_type, added_at, run_id) "
        "VALUES (%(table)s, %(column)s, %(sql_type)s, %(added_at)s, %(run_id)s)"
    )


def table_columns_sql() -> str:
    """The columns a warehouse table has now (information_schema: Postgres and Redshift alike)."""
    return (
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = %(schema)s AND table_name = %(table)s ORDER BY ordinal_position"
    )
