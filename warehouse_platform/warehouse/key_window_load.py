"""The load steps of a table declaring key_window_days (the rule and why: sql/key_window.py).

Both load paths run them in their one transaction, under the table's lock: the partition swap
(Postgres) and the staging table (Redshift, and Postgres appends) differ only in the table the
batch's rows wait in before they reach the day.
"""

from __future__ import annotations

from dataclasses import dataclass

from warehouse_platform.sql import key_window as kw
from warehouse_platform.warehouse.load_request import LoadRequest


@dataclass(frozen=True)
class HeldBack:
    # The batch's copies held back, one per key: a later day of the window holds the key.
    offered: int = 0
    # The batch's rows that left the load's table for them (more than `offered` when the batch
    # repeats such a key within the day: the staging table is deduplicated only as it is inserted).
    rows_removed: int = 0
    # Copies raw_data held in the window's earlier days that the batch's copies now beat.
    earlier: int = 0


def _params(req: LoadRequest) -> dict:
    return {**req.params, **kw.key_window_params(req.spec, req.partition_date)}


def hold_back_repeated_keys(cur, req: LoadRequest, offered: str) -> HeldBack:
    """Steps 1 to 3, before the day is replaced; `offered`: the load's table (quoted), holding
    the batch's rows."""
    spec, params = req.spec, _params(req)
    cur.execute(kw.drop_held_back_of_day_sql(spec), params)
    insert, delete = kw.hold_back_earlier_copies_sql(spec, offered)
    cur.execute(insert, params)
    earlier = cur.rowcount
    cur.execute(delete, params)
    insert, delete = kw.hold_back_offered_copies_sql(spec, offered)
    cur.execute(insert, params)
    held = cur.rowcount
    cur.execute(delete, params)
    return HeldBack(offered=held, rows_removed=cur.rowcount, earlier=earlier)


def restore_unbeaten_copies(cur, req: LoadRequest) -> int:
    """Step 4, once the new day is in place: held-back copies of the window's earlier days whose
    key no longer has a later copy go back to raw_data. Returns how many did. Looks only at the
    days that hold held-back copies (usually none)."""
    spec, params = req.spec, _params(req)
    cur.execute(kw.held_back_days_sql(spec), params)
    restored = 0
    for (day,) in cur.fetchall():
        insert, delete = kw.restore_held_back_sql(spec)
        day_params = {**params, **kw.restore_params(spec, day)}
        cur.execute(insert, day_params)
        restored += cur.rowcount
        cur.execute(delete, day_params)
    return restored
