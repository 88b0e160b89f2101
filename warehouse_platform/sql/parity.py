"""Source parity: the same two figures (rows, and the sum of a declared column) computed on the
application database for a day's rows (or the whole table) and on raw_data's partition (or the
whole table), so a difference shows rows or values that did not arrive, or arrived changed.

The source side is Postgres; the warehouse side runs on Postgres and Redshift alike. A timestamp
column is summed as seconds since the epoch (EXTRACT(EPOCH ...), in both), so an `updated_at`
that moved on one side only changes the sum.
"""

from __future__ import annotations

from warehouse_platform.contract.source_contract import type_family
from warehouse_platform.contract.table_spec import PARTITION_COLUMN, TableSpec
from warehouse_platform.sql import extract as extract_sql
from warehouse_platform.sql.quoting import quote_ident, quote_table


def _sum_term(spec: TableSpec, alias: str) -> str:
    if spec.parity_sum is None:
        return "NULL"
    column = f"{alias}.{quote_ident(spec.parity_sum)}"
    if type_family(spec.column(spec.parity_sum).sql_type) in ("timestamp", "timestamptz", "date"):
        column = f"EXTRACT(EPOCH FROM {column})"
    return f"SUM({column})"


def source_parity_sql(spec: TableSpec) -> str:
    """Rows and sum in the source: the day's rows by the day column (%(day_start)s, %(day_end)s)
    for daily tables, every row otherwise."""
    sql = f"SELECT COUNT(*), {_sum_term(spec, 'src')} FROM {extract_sql.source_from_sql(spec)}"
    return f"{sql} WHERE {extract_sql.day_window_sql(spec)}" if spec.partitioned else sql


def warehouse_parity_sql(spec: TableSpec) -> str:
    """Rows and sum in raw_data: the day's partition (%(partition_date)s), or the whole table."""
    sql = f"SELECT COUNT(*), {_sum_term(spec, 't')} FROM {quote_table(spec.schema, spec.name)} t"
    return f"{sql} WHERE t.{quote_ident(PARTITION_COLUMN.name)} = %(partition_date)s" if spec.partitioned else sql


def newest_loaded_cursor_sql(spec: TableSpec) -> str:
    """The newest change a whole-table incremental table holds: the next extract starts there,
    minus the lookback."""
    return f"SELECT MAX({quote_ident(spec.incremental.cursor)}) FROM {quote_table(spec.schema, spec.name)}"


def table_exists_sql() -> str:
    return (
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %(schema)s AND table_name = %(table)s"
    )
