"""One text per row (or per key), and its hash, rendered the same way on the application's
Postgres and on the warehouse (Postgres or Redshift): what source parity compares and what a
whole table's read uses to find the keys that differ (sql/parity.py, sql/extract.py).

Columns are joined by '|', NULL is `N`. A column whose text may hold a '|' or be `N` (text, a
kind the platform does not know) is written `<bytes>:<text>` (its length in UTF-8 bytes); a
column of a fixed-format kind (numbers, booleans, dates and times, UUIDs, bytes as hex,
addresses) is written as its text alone, which never holds a '|' and is never `N`; a JSON
document is written as the MD5 of its text (32 hex digits: never a '|', never `N`). Read left
to right with the columns' kinds, no two different rows render alike (a JSON document up to an
MD5 collision), and NULL stays distinct from any value. Why not a prefix on every column: SQL
does not share a subexpression, so the prefix made the database render each value twice (a
timestamptz formatted, a numeric's zeros stripped, twice a row), and counting characters cost
more than reading the byte length: this way a 20-column day hashes in about half the time
(docs/benchmarks.md). A JSON document's digest renders it once where its prefix rendered it
twice: serializing the wide benchmark's documents was 1.18 s of a side's 2.6 s of rendering, and
the digest made the side 0.5-1.0 s faster."""

from __future__ import annotations

from collections.abc import Sequence

from warehouse_platform.contract.column_types import type_kind
from warehouse_platform.contract.table_spec import Column, TableSpec
from warehouse_platform.sql.quoting import quote_ident
from warehouse_platform.sql.value_text import Side, value_text_sql


def _without_trailing_zeros(value: str, text: str, side: Side) -> str:
    """A number's text without the zeros its scale pads it with (0.5000 and 0.5 are one value: an
    unconstrained source numeric is held in a numeric(p,s)); a value the scale rounded still differs.
    Postgres (13+) has TRIM_SCALE, which on the wide benchmark's numeric column took 0.22-0.30 s a
    1M-row side against 0.57-0.70 s for the two regular expressions Redshift needs; both give the
    same text (`value`: the column's SQL, `text`: its text)."""
    if side == "redshift":
        return f"REGEXP_REPLACE(REGEXP_REPLACE({text}, '(\\.[0-9]*[1-9])0+$', '\\1'), '\\.0+$', '')"
    return f"CAST(TRIM_SCALE({value}) AS varchar)"


# Kinds whose text never holds the separator '|' and is never the NULL marker `N` (a float's
# `NaN` is three characters): written without a length prefix.
FIXED_FORMAT_KINDS = frozenset(
    {"integer", "decimal", "float", "boolean", "date", "time", "timestamp", "timestamptz", "uuid", "varbyte", "inet"}
)


# Kinds whose text is costly to render (a document serialized) and may be long: written as the
# MD5 of their text, rendered once.
DIGESTED_KINDS = frozenset({"super"})


def _render(columns: Sequence[Column], alias: str, side: Side) -> str:
    """One text for the columns, joined by '|': each `N` for NULL, else its text (fixed-format
    kinds), the MD5 of its text (digested kinds) or `<bytes>:<text>` (every other kind)."""
    parts = []
    for column in columns:
        value = f"{alias}.{quote_ident(column.name)}"
        text = value_text_sql(column, value, side)
        kind = type_kind(column.sql_type)
        if kind == "decimal":
            text = _without_trailing_zeros(value, text, side)
        if kind in FIXED_FORMAT_KINDS:
            parts.append(f"COALESCE({text}, 'N')")
        elif kind in DIGESTED_KINDS:
            parts.append(f"COALESCE(MD5({text}), 'N')")
        else:
            parts.append(f"COALESCE(CAST(OCTET_LENGTH({text}) AS varchar) || ':' || {text}, 'N')")
    return " || '|' || ".join(parts)


def row_text_sql(spec: TableSpec, alias: str, side: Side) -> str:
    return _render(spec.columns, alias, side)


def key_text_sql(spec: TableSpec, alias: str, side: Side) -> str:
    return _render([spec.column(k) for k in spec.primary_key], alias, side)


def hash_number_sql(md5_sql: str, side: Side) -> str:
    """The first 15 hex digits (60 bits) of an MD5 as a number that sums without overflow.
    Redshift's SUM of a BIGINT is a BIGINT, so there it is a DECIMAL(38, 0); Postgres sums a
    bigint exactly into a numeric (through 128-bit integers), which on a 1M-row day took 0.31 s
    against 0.44 s for the same sum of numerics. Both sums are the same number."""
    if side == "redshift":
        return f"CAST(STRTOL(SUBSTRING({md5_sql}, 1, 15), 16) AS DECIMAL(38, 0))"
    return f"('x' || SUBSTRING({md5_sql}, 1, 15))::bit(60)::bigint"


def bucket_sql(spec: TableSpec, alias: str, side: Side) -> str:
    return f"SUBSTRING(MD5({key_text_sql(spec, alias, side)}), 1, 2)"
