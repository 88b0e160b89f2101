"""How far a day's row count may fall before the platform objects.

Two places judge it, on different facts: a load about to replace a day (or a whole table)
compares what it would leave with what the day holds, and refuses unless the run allows it; the
row-volume check compares a loaded day with the days before it. Both call a fall below half a
sharp drop, and an empty day after non-empty ones the worst case: an empty source (a deleted
day, a broken query, a replica behind) must never silently replace loaded data.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

# Below this share of the reference (rows held, or the trailing days' median) is a sharp drop.
SHARP_DROP = 0.5
# The row-volume check compares a day with up to this many loaded days before it.
TRAILING_DAYS = 7

ALLOW_SHRINK_FIELD = "allow_shrink"


def shrink_refusal(table: str, partition: str | None, rows_held: int, rows_offered: int, allowed: bool) -> str | None:
    """Why a load that would leave `rows_offered` rows where `rows_held` are must not run, or
    None when it may: it keeps at least half, the day was empty, or the run allows it."""
    if allowed or rows_held == 0 or rows_offered >= rows_held * SHARP_DROP:
        return None
    where = f"day {partition}" if partition else "the table"
    what = "nothing" if rows_offered == 0 else f"{rows_offered:,} rows, less than half"
    return (
        f"refused to replace {table} {where}: it holds {rows_held:,} rows and this load offers {rows_offered:,} "
        f"({what}); an empty or broken extract would wipe loaded data. Nothing was changed. If the source "
        f"really has fewer rows now, run again with `{ALLOW_SHRINK_FIELD}: true` in the raw asset's run config"
    )


class Volume(str, Enum):
    NO_HISTORY = "no earlier loaded day to compare with"
    NORMAL = "normal"
    SHARP_DROP = "sharp drop"
    EMPTY = "empty"


@dataclass(frozen=True)
class VolumeVerdict:
    volume: Volume
    trailing_median: float | None


def row_volume_verdict(day_rows: int, trailing_rows: Sequence[int]) -> VolumeVerdict:
    """A day against the loaded days before it (most recent first, at most TRAILING_DAYS)."""
    trailing = [n for n in trailing_rows if n > 0][:TRAILING_DAYS]
    if not trailing:
        return VolumeVerdict(Volume.NO_HISTORY, None)
    median = float(statistics.median(trailing))
    if day_rows == 0:
        return VolumeVerdict(Volume.EMPTY, median)
    if day_rows < median * SHARP_DROP:
        return VolumeVerdict(Volume.SHARP_DROP, median)
    return VolumeVerdict(Volume.NORMAL, median)
