"""Freshness of a table loaded by day: judged on the newest day it holds, not on when it was
last written (a re-run of an old day writes today and makes nothing fresher).

One rule, applied twice: to a daily table (the check newest_day_fresh) and, carried through
lineage, to every analytics model reading daily tables (the check inputs_fresh): a model is as
stale as the stalest daily table it reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta


def newest_loaded_day(days: Iterable[str | date]) -> date | None:
    """The newest of the days a table holds, in whatever order they are listed: only it counts
    (an old day re-loaded today, or the first day of a long history, says nothing of freshness)."""
    parsed = [day if isinstance(day, date) else date.fromisoformat(day) for day in days]
    return max(parsed, default=None)


def days_behind(newest_day: date | None, today: date) -> int | None:
    """Days the newest loaded day lags behind yesterday (the newest complete day) in the business
    time zone: 0 or less is fresh; None when nothing is loaded."""
    if newest_day is None:
        return None
    return ((today - timedelta(days=1)) - newest_day).days


def days_text(days: int) -> str:
    return "1 day" if days == 1 else f"{days:,} days"


def is_fresh(newest_day: date | None, today: date) -> bool:
    # No grace day: yesterday loaded is fresh, the day before is one day behind, and stale.
    behind = days_behind(newest_day, today)
    return behind is not None and behind <= 0


@dataclass(frozen=True)
class StaleInput:
    table: str
    newest_day: date | None
    # None when the table holds no day at all.
    days_behind: int | None

    def describe(self) -> str:
        if self.newest_day is None:
            return f"{self.table} holds no loaded day"
        return f"{self.table}: newest loaded day {self.newest_day}, {days_text(self.days_behind)} behind"


def stale_inputs(newest_by_table: Mapping[str, date | None], today: date) -> list[StaleInput]:
    """The daily tables a model reads that are stale by is_fresh, most behind first (a table
    holding nothing first of all)."""
    stale = [
        StaleInput(table, newest, days_behind(newest, today))
        for table, newest in newest_by_table.items() if not is_fresh(newest, today)
    ]
    return sorted(stale, key=lambda s: (s.days_behind is not None, -(s.days_behind or 0), s.table))
