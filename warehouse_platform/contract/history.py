"""Where each table's history begins: its first day, declared in the catalog (a catalog-wide
`history_start:` and a per-table one), and the rules that follow from it. Read by the daily
partitions (conventions/partitions.py), the stage assets (a day before its table's first day is
refused), the landing sensor (a file of such a day is never loaded), the daily schedule and
backfills (only tables whose history has begun), and the demo and the generator's defaults
(cli.py). Pure: no Dagster."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Protocol, TypeVar


class _Table(Protocol):
    """What these rules read of a TableSpec (table_spec.py imports this module for its default,
    so this module names the fields rather than importing it)."""

    history_start: date
    partitioned: bool
    qualified_name: str


T = TypeVar("T", bound=_Table)

# The first day of a catalog that declares no `history_start:` (and of a TableSpec built in
# code). The shipped catalog relies on it: its demo data starts here, so the UI's partitions
# start on the first day the demo fills, not weeks before it.
DEFAULT_HISTORY_START = date(2026, 10, 26)


def first_partition_day(tables: Iterable[_Table]) -> date:
    """The first day of the daily partitions every daily table shares: the earliest first day
    any daily table declares. Dagster 1.13 requires one partitions definition across the assets
    of a job and of a sensor's target, so tables with different first days share the earliest
    one, and each table's own first day is enforced by `day_before_history` instead."""
    return min((spec.history_start for spec in tables if spec.partitioned), default=DEFAULT_HISTORY_START)


def day_before_history(spec: _Table, day: str | date) -> str | None:
    """Why `day` cannot be a day of this table (it precedes the table's first day), or None."""
    day = date.fromisoformat(day) if isinstance(day, str) else day
    if day < spec.history_start:
        return (f"day {day.isoformat()} is before the first partition of {spec.qualified_name} "
                f"(history_start {spec.history_start.isoformat()})")
    return None


# How far a landed log line's own time may lie from its folder's day: log times are normalised to
# UTC while the shipper files by its own day, a session that starts late in the day goes on past
# midnight, and a send retried after midnight is filed under the next day. Lines a day away are
# that; a line further away means the file is of another day (a 2015 file under a 2026 folder).
# Landed CSV files carry the day as the system that landed them wrote it: no tolerance.
LOG_LINE_DAY_TOLERANCE_DAYS = 1


def day_not_of_folder(value: str, folder_day: str, tolerance_days: int = 0) -> str | None:
    """The day of a landed row's date or timestamp text when it is not the folder's day (within
    `tolerance_days`), else None. Text that is not a date is not judged here: the load reports it."""
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    if abs((day - date.fromisoformat(folder_day)).days) > tolerance_days:
        return day.isoformat()
    return None


def tables_with_history_on(tables: Iterable[T], day: str | date) -> list[T]:
    """The tables whose history has begun on `day`: what a run for that day may select."""
    return [spec for spec in tables if day_before_history(spec, day) is None]
