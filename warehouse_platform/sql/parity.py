"""Source parity: every declared column of every row, compared between the application database
(a day's rows by its day column, or the whole table) and raw_data (the day's partition, or the
whole table), without moving the rows.

Each row is rendered as one text (every declared column, written so no two rows render alike,
NULL distinct from any text: sql/row_hash.py) and hashed with MD5; a side's figure is its row count and the
sum of its rows' hashes (the first 60 bits, as a number), which does not depend on the order the
rows are read in. Equal figures: the same rows. Different figures: the rows are grouped into 256
buckets by the hash of their key, the buckets compared, and only the keys of the buckets that
differ are fetched, so a mismatch is named key by key and stays cheap on a table of millions.

The source side is Postgres; the warehouse side runs on Postgres and on Redshift, whose hash
arithmetic differs (Postgres: a bit-string cast; Redshift: STRTOL), from the same text.
"""

from __future__ import annotations

from collections.abc import Sequence

from warehouse_platform.contract.table_spec import PARTITION_COLUMN, TableSpec
from warehouse_platform.sql import extract as extract_sql
from warehouse_platform.sql.quoting import quote_ident, quote_table
from warehouse_platform.sql.row_hash import Side, bucket_sql, hash_number_sql, row_text_sql


def _from_where(spec: TableSpec, alias: str, side: Side) -> tuple[str, str]:
    """The rows compared: the source's day by its day column (%(day_start)s, %(day_end)s) or
    table; the warehouse's partition (%(partition_date)s) or table."""
    if side == "source":
        source = extract_sql.source_from_sql(spec).removesuffix(" src") + f" {alias}"
        where = extract_sql.day_window_sql(spec).replace("src.", f"{alias}.") if spec.partitioned else "TRUE"
        return source, where
    where = f"{alias}.{quote_ident(PARTITION_COLUMN.name)} = %(partition_date)s" if spec.partitioned else "TRUE"
    return f"{quote_table(spec.schema, spec.name)} {alias}", where


def _row_hash_sum(spec: TableSpec, side: Side) -> str:
    row_md5 = "MD5(" + row_text_sql(spec, "r", side) + ")"
    return f"SUM({hash_number_sql(row_md5, side)})"


def totals_sql(spec: TableSpec, side: Side) -> str:
    """Rows, and the sum of their hashes."""
    table, where = _from_where(spec, "r", side)
    return f"SELECT COUNT(*), {_row_hash_sum(spec, side)} FROM {table} WHERE {where}"


def day_totals_sql(spec: TableSpec, side: Side) -> str:
    """Per day of a range, in one scan: the day, its rows and the sum of their hashes (what
    totals_sql gives for one day). The source's days by its day column (%(range_start)s up to
    %(range_end)s, in its wall-clock time, as a day's extract reads them); raw_data's by partition
    (%(first_day)s to %(last_day)s)."""
    if side == "source":
        table = extract_sql.source_from_sql(spec).removesuffix(" src") + " r"
        column = f"r.{quote_ident(spec.source.day_column)}"
        day, where = f"CAST({column} AS date)", f"{column} >= %(range_start)s AND {column} < %(range_end)s"
    else:
        table = f"{quote_table(spec.schema, spec.name)} r"
        day = f"r.{quote_ident(PARTITION_COLUMN.name)}"
        where = f"{day} >= %(first_day)s AND {day} <= %(last_day)s"
    return f"SELECT {day}, COUNT(*), {_row_hash_sum(spec, side)} FROM {table} WHERE {where} GROUP BY 1"


def buckets_sql(spec: TableSpec, side: Side) -> str:
    """Per bucket of keys: rows and the sum of their hashes."""
    table, where = _from_where(spec, "r", side)
    bucket = bucket_sql(spec, "r", side)
    return (
        f"SELECT {bucket} AS bucket, COUNT(*), {_row_hash_sum(spec, side)} "
        f"FROM {table} WHERE {where} GROUP BY 1"
    )


def bucket_params(buckets: Sequence[str]) -> dict[str, str]:
    return {f"bucket_{i}": b for i, b in enumerate(buckets)}


def rows_in_buckets_sql(spec: TableSpec, side: Side, bucket_count: int) -> str:
    """Each row of the given buckets (parameters from bucket_params): its key columns, the MD5 of
    the whole row, and its cursor (for an incremental table: a change that did not move it)."""
    table, where = _from_where(spec, "r", side)
    keys = ", ".join(f"CAST(r.{quote_ident(k)} AS varchar)" for k in spec.primary_key)
    cursor = f"CAST(r.{quote_ident(spec.incremental.cursor)} AS varchar)" if spec.incremental else "NULL"
    listed = ", ".join(f"%(bucket_{i})s" for i in range(bucket_count)) or "NULL"
    return (
        f"SELECT {keys}, MD5({row_text_sql(spec, 'r', side)}), {cursor} FROM {table} "
        f"WHERE {where} AND {bucket_sql(spec, 'r', side)} IN ({listed})"
    )


def newest_loaded_cursor_sql(spec: TableSpec) -> str:
    """The newest change a whole-table incremental table holds: the next extract starts there,
    minus the lookback."""
    return f"SELECT MAX({quote_ident(spec.incremental.cursor)}) FROM {quote_table(spec.schema, spec.name)}"


def table_exists_sql() -> str:
    return (
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %(schema)s AND table_name = %(table)s"
    )
