"""The durable record of landed files handed to runs: per table and day, the object versions
(key -> ETag) a run took. Kept in the Dagster instance's key-value store (Postgres in production),
apart from the sensor's cursor: resetting the cursor loses nothing and reloads nothing.

Written by the run that stages the files (not by the sensor tick): between the tick and the run,
the tick's deterministic run key keeps Dagster from requesting the same files twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dagster as dg

from warehouse_platform.staged_files.landing_layout import decode_handed, encode_handed, record_key


def read_handed(instance: dg.DagsterInstance, groups: Iterable[tuple[str, str | None]]) -> dict[tuple[str, str | None], dict[str, str]]:
    keys = {group: record_key(*group) for group in groups}
    stored = instance.run_storage.get_cursor_values(set(keys.values())) if keys else {}
    return {group: decode_handed(stored.get(key)) for group, key in keys.items()}


def record_handed(instance: dg.DagsterInstance, table: str, day: str | None, versions: Mapping[str, str]) -> None:
    # Runs of one table and day do not overlap (the instance's run queue limits them), so this
    # read-modify-write does not race; if it ever did, a lost entry costs one repeated run whose
    # unchanged files the load ledger recognises and skips.
    [handed] = read_handed(instance, [(table, day)]).values()
    instance.run_storage.set_cursor_values({record_key(table, day): encode_handed({**handed, **versions})})
