"""The source and raw_data compared key by key without moving the rows: figures per bucket of
key hashes on each side (sql/parity.py), then the rows of the buckets that differ only. Used by
the source_parity check and by a whole table's incremental read (which re-reads what differs
and learns which keys the source deleted)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.rules.parity import ParityDiff, compare_rows, differing_buckets
from warehouse_platform.sql import parity as parity_sql

Query = Callable[[str, dict | None], list[tuple]]


def _figures(rows) -> dict:
    return {bucket: (int(n), None if total is None else Decimal(str(total))) for bucket, n, total in rows}


def compare_by_buckets(
    spec: TableSpec, in_source: Query, in_warehouse: Query, dialect: str, params: dict | None = None
) -> tuple[list[str], ParityDiff]:
    """(the buckets that differ, the keys that differ in them). `params`: the day's window and
    partition for a daily table."""
    params = params or {}
    differing = differing_buckets(
        _figures(in_source(parity_sql.buckets_sql(spec, "source"), params)),
        _figures(in_warehouse(parity_sql.buckets_sql(spec, dialect), params)),
    )
    if not differing:
        return differing, ParityDiff()
    keyed = {**params, **parity_sql.bucket_params(differing)}
    width = len(spec.primary_key)

    def keyed_rows(found) -> dict:
        return {tuple(r[:width]): (r[width], r[width + 1]) for r in found}

    return differing, compare_rows(
        keyed_rows(in_source(parity_sql.rows_in_buckets_sql(spec, "source", len(differing)), keyed)),
        keyed_rows(in_warehouse(parity_sql.rows_in_buckets_sql(spec, dialect, len(differing)), keyed)),
    )
