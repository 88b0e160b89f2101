"""One column's value as text, exactly, by its declared kind (contract/column_types.py): what the
extract stages from the source and what source parity hashes on each side. One rule for both, so
what is staged and what is compared cannot drift apart.

- timestamptz: the UTC wall time with `+00` (the session's time zone never shows; the same
  instant always gives the same text, across a daylight-saving change too);
- super: JSON text of the value (`to_jsonb`: a json/jsonb value as JSON, an array as a JSON array
  with its NULLs as `null`, a composite as an object); a JSON `null` is the text `null`, never SQL
  NULL;
- everything else: Postgres' own text form, which its input reads back exactly (numeric keeps
  every digit, floats print the shortest text that reads back to the same value, bytea is `\\x`
  and hex, an enum its label).
"""

from __future__ import annotations

from typing import Literal

from warehouse_platform.contract.column_types import type_kind
from warehouse_platform.contract.table_spec import Column

Side = Literal["source", "postgres", "redshift"]  # the application database, or the warehouse's dialect


def value_text_sql(column: Column, value: str, side: Side) -> str:
    """`value`: the column's SQL (already quoted). Text on every side, NULL kept NULL."""
    kind = type_kind(column.sql_type)
    if kind == "timestamptz":
        return f"(CAST(({value} AT TIME ZONE 'UTC') AS varchar) || '+00')"
    if kind == "super":
        if side == "source":
            return f"CAST(to_jsonb({value}) AS varchar)"
        if side == "redshift":
            return f"JSON_SERIALIZE({value})"
    return f"CAST({value} AS varchar)"
