"""A set of keys as SQL parameters (Postgres): one array per key column, so any key type and any
number of key columns travel as bound values, never as text pasted into the statement."""

from __future__ import annotations

from collections.abc import Sequence

from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.sql.ddl import column_type
from warehouse_platform.sql.quoting import quote_ident, quote_idents


def key_array_params(spec: TableSpec, name: str, keys: Sequence[Sequence]) -> dict[str, list]:
    """Keys (tuples, one value per key column) as one array parameter per key column, for
    `keys_in_sql`. Values may be text (keys read back from a manifest): the SQL casts them."""
    return {f"{name}_{i}": [key[i] for key in keys] for i in range(len(spec.primary_key))}


def keys_in_sql(spec: TableSpec, name: str, qualifier: str = "") -> str:
    """`(k1, k2) IN (SELECT * FROM unnest(%(name_0)s::type1[], ...))`: any key type, any number of
    key columns, each array cast to its column's type (an integer key compared with text fails).
    `qualifier`: the table alias the key columns belong to (`src`)."""
    arrays = ", ".join(
        f"%({name}_{i})s::{column_type(spec.column(k), 'postgres')}[]" for i, k in enumerate(spec.primary_key)
    )
    prefix = f"{quote_ident(qualifier)}." if qualifier else ""
    columns = ", ".join(f"{prefix}{quote_ident(k)}" for k in spec.primary_key) if qualifier else quote_idents(spec.primary_key)
    return f"({columns}) IN (SELECT * FROM unnest({arrays}))"
