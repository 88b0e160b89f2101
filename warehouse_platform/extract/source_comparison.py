"""The source and raw_data compared key by key without moving the rows: figures per bucket of
key hashes on each side (sql/parity.py), then the rows of the buckets that differ only. Used by
the source_parity check and by a whole table's incremental read (which re-reads what differs
and learns which keys the source deleted)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
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


def days_that_differ(
    spec: TableSpec, in_source: Query, in_warehouse: Query, dialect: str, first_day: date, last_day: date
) -> dict[date, tuple | None]:
    """The days of a daily table, from `first_day` to `last_day`, whose rows differ between the
    source and raw_data (every column, a day on one side only too): one grouped scan of the range
    on each side, so days outside any lookback (a purchase deleted or changed weeks later) are
    found without reading each day. A re-read of such a day brings it back to the source.
    Returns each such day with the source's figures for it (rows, hash sum; None: no rows)."""
    start = datetime.combine(first_day, time())
    window = {
        "range_start": start, "range_end": datetime.combine(last_day + timedelta(days=1), time()),
        "first_day": first_day, "last_day": last_day,
    }
    source = _figures(in_source(parity_sql.day_totals_sql(spec, "source"), window))
    raw = _figures(in_warehouse(parity_sql.day_totals_sql(spec, dialect), window))
    return {day: source.get(day) for day in differing_buckets(source, raw)}
