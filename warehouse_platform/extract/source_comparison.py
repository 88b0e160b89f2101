"""The source and raw_data compared key by key without moving the rows: figures per bucket of
key hashes on each side (sql/parity.py), then the rows of the buckets that differ only. Used by
the source_parity check and by a whole table's incremental read (which re-reads what differs
and learns which keys the source deleted)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TypeVar

from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.rules.parity import ParityDiff, compare_rows, differing_buckets
from warehouse_platform.sql import parity as parity_sql

Query = Callable[[str, dict | None], list[tuple]]
S = TypeVar("S")
W = TypeVar("W")


def on_both_sides(read_source: Callable[[], S], read_warehouse: Callable[[], W]) -> tuple[S, W]:
    """The source's read and the warehouse's at once, the source's on a thread: two independent
    scans of two databases (two machines in production, two backends locally), each on its own
    connection, so a comparison waits for the slower side instead of their sum. Each side still
    reads its database as it is now: nothing the extract read is reused, so a row changed in the
    source after its extract still differs."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="source-side") as pool:
        source = pool.submit(read_source)
        warehouse = read_warehouse()
        return source.result(), warehouse


def _figures(rows) -> dict:
    return {bucket: (int(n), None if total is None else Decimal(str(total))) for bucket, n, total in rows}


def compare_by_buckets(
    spec: TableSpec, in_source: Query, in_warehouse: Query, dialect: str, params: dict | None = None
) -> tuple[list[str], ParityDiff]:
    """(the buckets that differ, the keys that differ in them). `params`: the day's window and
    partition for a daily table."""
    params = params or {}
    differing = differing_buckets(*on_both_sides(
        lambda: _figures(in_source(parity_sql.buckets_sql(spec, "source"), params)),
        lambda: _figures(in_warehouse(parity_sql.buckets_sql(spec, dialect), params)),
    ))
    if not differing:
        return differing, ParityDiff()
    keyed = {**params, **parity_sql.bucket_params(differing)}
    width = len(spec.primary_key)

    def keyed_rows(found) -> dict:
        return {tuple(r[:width]): (r[width], r[width + 1]) for r in found}

    return differing, compare_rows(*on_both_sides(
        lambda: keyed_rows(in_source(parity_sql.rows_in_buckets_sql(spec, "source", len(differing)), keyed)),
        lambda: keyed_rows(in_warehouse(parity_sql.rows_in_buckets_sql(spec, dialect, len(differing)), keyed)),
    ))


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
    source, raw = on_both_sides(
        lambda: _figures(in_source(parity_sql.day_totals_sql(spec, "source"), window)),
        lambda: _figures(in_warehouse(parity_sql.day_totals_sql(spec, dialect), window)),
    )
    return {day: source.get(day) for day in differing_buckets(source, raw)}
