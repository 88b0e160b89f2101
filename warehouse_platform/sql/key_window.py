"""A key repeated in neighbouring days is one row (TableSpec.key_window_days): the statements, for
Postgres and Redshift from the same builders.

A landed log's key can repeat in two days' files: an event sent at 23:59:59 whose acknowledgement
was lost is retried after midnight, and the shipper files the retry under the next day. Within the
declared window, raw_data holds one copy of the key, the **newest landed copy**: the copy in the
latest day. Within one day the table's dedupe_order still decides (the first landed line).

Why the day and not when a file landed: the day is part of the copy (the folder its file was filed
in) and never changes, so the winner is a property of the files, the same whatever order the days
are loaded or re-loaded in. A file's landing time is not: re-landing a corrected file, or copying
the bucket, changes it, and the order two days' loads happen to run in says nothing about which
send came last. A retry is filed at or after its first send, so the later day's copy is the retry.

Every other copy is *held back*: kept, with its day and load, in a table of the same name in the
`<schema>_held_back` schema, outside the analysts' schema (raw_data never holds it, and the
duplicate-key check over raw_data passes), so that it can come back when the copy that beat it goes.

The rule, per copy: a copy of day d is held back exactly when its key has a copy, held or held back,
in a day of (d, d + window]. It depends only on which copies exist, so the same set of loaded days
gives the same raw_data in any load order. A load of day D keeps it true reading only the window's
days (a daily load never scans the table):

1. the copies D's previous load held back are dropped (the new batch replaces the day);
2. copies raw_data holds in days [D - window, D) whose key the batch offers are held back;
3. the batch's copies whose key has a copy in (D, D + window] are held back instead of loaded;
4. once the new day is in place, copies held back in days [D - window, D) whose key no longer has a
   later copy in their window (the old day D held the key, the new one does not: a corrected file
   without the retry) go back to raw_data, into their own day. Nothing is lost.

Parameters: the load's %(partition_date)s and %(load_id)s, and key_window_params(...) /
restore_params(...). Statement pairs (INSERT, then DELETE with the same predicate) stand for a
move: Redshift has no DELETE ... RETURNING.
"""

from __future__ import annotations

from datetime import date, timedelta

from warehouse_platform.contract.table_spec import DEDUPE_RANK_COLUMN, LOAD_ID_COLUMN, PARTITION_COLUMN, TableSpec
from warehouse_platform.sql.ddl import held_back_schema
from warehouse_platform.sql.load import dedupe_order_sql, key_match_sql
from warehouse_platform.sql.quoting import quote_ident, quote_idents, quote_table

DAY = quote_ident(PARTITION_COLUMN.name)


def held_back_table_sql(spec: TableSpec) -> str:
    return quote_table(held_back_schema(spec), spec.name)


def _all_columns(spec: TableSpec) -> list[str]:
    """The columns a held-back copy keeps: the contract, its day and the load that wrote it."""
    return [*spec.column_names, PARTITION_COLUMN.name, LOAD_ID_COLUMN.name]


def key_window_params(spec: TableSpec, day: date) -> dict:
    """The window around the day being loaded: [start, day) holds the copies it can beat,
    (day, end] the copies that beat it."""
    window = timedelta(days=spec.key_window_days)
    return {"key_window_start": day - window, "key_window_end": day + window}


def restore_params(spec: TableSpec, day: date) -> dict:
    """For restore_held_back_sql: the held-back day looked at, and the end of its own window."""
    return {"restore_day": day, "restore_window_end": day + timedelta(days=spec.key_window_days)}


def _has_later_copy(spec: TableSpec, row: str, after: str, until: str) -> str:
    """The key of `row` has a copy, in raw_data or held back, in a day after %(`after`)s up to
    %(`until`)s. Both tables are read by day (Postgres prunes raw_data to those days' partitions),
    and as one EXISTS over their union, not two EXISTS joined by OR: Postgres plans an OR of
    correlated subqueries as a subquery run per row (a scan of the later days for every row of the
    day), and a single EXISTS as a hash semi-join."""
    keys = quote_idents(spec.primary_key)
    days = f"{DAY} > %({after})s AND {DAY} <= %({until})s"
    copies = " UNION ALL ".join(
        f"SELECT {keys} FROM {table} WHERE {days}" for table in (quote_table(spec.schema, spec.name), held_back_table_sql(spec))
    )
    return f"EXISTS (SELECT 1 FROM ({copies}) later WHERE {key_match_sql(spec, 'later', row)})"


def drop_held_back_of_day_sql(spec: TableSpec) -> str:
    """Step 1: the copies the day's previous load held back; the new batch decides again."""
    return f"DELETE FROM {held_back_table_sql(spec)} WHERE {DAY} = %(partition_date)s"


def hold_back_earlier_copies_sql(spec: TableSpec, offered: str) -> list[str]:
    """Step 2: copies raw_data holds in the days before, within the window, of keys the batch
    offers (`offered`: the load's table, quoted; duplicates in it are harmless) move to the
    held-back table."""
    target = quote_table(spec.schema, spec.name)
    columns = quote_idents(_all_columns(spec))
    earlier = f"{target}.{DAY} >= %(key_window_start)s AND {target}.{DAY} < %(partition_date)s"
    return [
        f"INSERT INTO {held_back_table_sql(spec)} ({columns}) SELECT {columns} FROM {target} "
        f"WHERE {earlier} AND EXISTS (SELECT 1 FROM {offered} s WHERE {key_match_sql(spec, 's', target)})",
        f"DELETE FROM {target} USING {offered} s WHERE {key_match_sql(spec, 's', target)} AND {earlier}",
    ]


def hold_back_offered_copies_sql(spec: TableSpec, offered: str) -> list[str]:
    """Step 3: the batch's copies of keys a later day of the window has a copy of are held back,
    one per key (the first in dedupe_order, as the day would have kept), and leave the load's
    table. Only those keys are ranked: the day's other rows are not sorted again."""
    columns = quote_idents(spec.column_names)
    later = _has_later_copy(spec, offered, "partition_date", "key_window_end")
    ranked = (
        f"SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY {quote_idents(spec.primary_key)} "
        f"ORDER BY {dedupe_order_sql(spec)}) AS {DEDUPE_RANK_COLUMN} FROM {offered} WHERE {later}"
    )
    return [
        f"INSERT INTO {held_back_table_sql(spec)} ({quote_idents(_all_columns(spec))}) "
        f"SELECT {columns}, %(partition_date)s, %(load_id)s FROM ({ranked}) ranked WHERE {DEDUPE_RANK_COLUMN} = 1",
        f"DELETE FROM {offered} WHERE {later}",
    ]


def held_back_days_sql(spec: TableSpec) -> str:
    """Step 4's days: those before the loaded day, within the window, that hold held-back copies."""
    return (
        f"SELECT DISTINCT {DAY} FROM {held_back_table_sql(spec)} "
        f"WHERE {DAY} >= %(key_window_start)s AND {DAY} < %(partition_date)s ORDER BY 1"
    )


def restore_held_back_sql(spec: TableSpec) -> list[str]:
    """Step 4, for one day (restore_params): its held-back copies whose key no longer has a later
    copy in its window go back to raw_data, into their own day, with the load that wrote them.
    The INSERT does not change the DELETE's predicate: a restored copy lives in %(restore_day)s,
    not after it."""
    held_back = held_back_table_sql(spec)
    columns = quote_idents(_all_columns(spec))
    alone = f"NOT {_has_later_copy(spec, held_back, 'restore_day', 'restore_window_end')}"
    return [
        f"INSERT INTO {quote_table(spec.schema, spec.name)} ({columns}) SELECT {columns} FROM {held_back} "
        f"WHERE {held_back}.{DAY} = %(restore_day)s AND {alone}",
        f"DELETE FROM {held_back} WHERE {held_back}.{DAY} = %(restore_day)s AND {alone}",
    ]


def count_held_back_of_day_sql(spec: TableSpec) -> str:
    """The day's copies held back now: with the rows the day holds, the rows its batch kept."""
    return f"SELECT count(*) FROM {held_back_table_sql(spec)} WHERE {DAY} = %(partition_date)s"
