"""The durable record of which landed file versions each table's day holds: per table and day,
the object versions (key -> ETag) of the files whose rows the day was last loaded from. Kept in
the Dagster instance's key-value store (Postgres in production), apart from the sensor's
cursor: resetting the cursor loses nothing and reloads nothing.

Written by the load step, after its transaction committed, and replaced whole (the day's rows
are now exactly that batch's): a run that staged fewer files than the day had (an older run
re-executed, or merely late) can only shrink this record, never hide a file, and the landing
sensor requests every present file the record lacks again. A run that fails before its load
commits leaves the record as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dagster as dg

from warehouse_platform.staged_files.landing_layout import decode_versions, encode_versions, record_key


def read_loaded(instance: dg.DagsterInstance, groups: Iterable[tuple[str, str | None]]) -> dict[tuple[str, str | None], dict[str, str]]:
    """Per (table, day): the landed file versions its rows were last loaded from."""
    keys = {group: record_key(*group) for group in groups}
    stored = instance.run_storage.get_cursor_values(set(keys.values())) if keys else {}
    return {group: decode_versions(stored.get(key)) for group, key in keys.items()}


def record_loaded(instance: dg.DagsterInstance, table: str, day: str | None, versions: Mapping[str, str]) -> None:
    # Loads of one table and day are serialised by the load's table lock and the ledger, and the
    # ledger lets only a newer view of the landing folder replace the day, so the last writer here
    # is the day's newest batch, or one that carries every file it did (the stage takes every file
    # present): a lost race costs one repeated run whose files the ledger recognises and skips.
    instance.run_storage.set_cursor_values({record_key(table, day): encode_versions(versions)})
