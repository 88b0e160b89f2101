"""One text per row (or per key), and its hash, rendered the same way on the application's
Postgres and on the warehouse (Postgres or Redshift): what source parity compares and what a
whole table's read uses to find the keys that differ (sql/parity.py, sql/extract.py).

Each column is `<length>:<text>` or `N` for NULL, joined by '|': no two different rows render
alike, and NULL stays distinct from any text."""

from __future__ import annotations

from collections.abc import Sequence

from warehouse_platform.contract.column_types import type_kind
from warehouse_platform.contract.table_spec import Column, TableSpec
from warehouse_platform.sql.quoting import quote_ident
from warehouse_platform.sql.value_text import Side, value_text_sql


def _without_trailing_zeros(text: str) -> str:
    """A number's text without the zeros its scale pads it with (0.5000 and 0.5 are one value: an
    unconstrained source numeric is held in a numeric(p,s)); a value the scale rounded still differs."""
    return f"REGEXP_REPLACE(REGEXP_REPLACE({text}, '(\\.[0-9]*[1-9])0+$', '\\1'), '\\.0+$', '')"


def _render(columns: Sequence[Column], alias: str, side: Side) -> str:
    """One text for the columns: each as `<length>:<text>`, or `N` for NULL, joined by '|'."""
    parts = []
    for column in columns:
        text = value_text_sql(column, f"{alias}.{quote_ident(column.name)}", side)
        if type_kind(column.sql_type) == "decimal":
            text = _without_trailing_zeros(text)
        parts.append(f"COALESCE(CAST(LENGTH({text}) AS varchar) || ':' || {text}, 'N')")
    return " || '|' || ".join(parts)


def row_text_sql(spec: TableSpec, alias: str, side: Side) -> str:
    return _render(spec.columns, alias, side)


def key_text_sql(spec: TableSpec, alias: str, side: Side) -> str:
    return _render([spec.column(k) for k in spec.primary_key], alias, side)


def hash_number_sql(md5_sql: str, side: Side) -> str:
    """The first 15 hex digits (60 bits) of an MD5 as a number, summed without overflow."""
    if side == "redshift":
        number = f"STRTOL(SUBSTRING({md5_sql}, 1, 15), 16)"
    else:
        number = f"('x' || SUBSTRING({md5_sql}, 1, 15))::bit(60)::bigint"
    return f"CAST({number} AS DECIMAL(38, 0))"


def bucket_sql(spec: TableSpec, alias: str, side: Side) -> str:
    return f"SUBSTRING(MD5({key_text_sql(spec, alias, side)}), 1, 2)"
