"""Distribution skew: how unevenly a DISTKEY spreads rows over slices, and what to use instead.

Redshift reports skew as `skew_rows` in SVV_TABLE_INFO: rows on the fullest slice divided by
rows on the emptiest. AWS's tuning guidance is to reconsider a table's distribution style at a
skew of 4.00 or more, which is our default warning threshold. EVEN and ALL tables have no
skew_rows (the rows are spread round-robin, or copied to every node), so the check reports
them as not applicable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_SKEW_THRESHOLD = 4.0
# Redshift's AUTO starts small tables as ALL; a dimension this small costs little to copy to
# every node and spares every join a redistribution.
SMALL_TABLE_ROWS = 100_000
# Below this many rows per slice the max/min ratio is mostly noise (7 rows against 1 is "7.0");
# the figures are still shown, but the check does not warn.
MIN_ROWS_PER_SLICE_TO_JUDGE = 100


def skew_ratio(rows_per_slice: Sequence[int]) -> float:
    """max/min over slices, as Redshift's skew_rows; infinite when a slice is empty and
    another is not, 1.0 for an empty table."""
    if not rows_per_slice or max(rows_per_slice) == 0:
        return 1.0
    low = min(rows_per_slice)
    return math.inf if low == 0 else max(rows_per_slice) / low


@dataclass(frozen=True)
class KeySpread:
    column: str
    rows_per_slice: tuple[int, ...]
    heaviest: tuple[tuple[str, int], ...]  # (value, rows), most rows first

    @property
    def ratio(self) -> float:
        return skew_ratio(self.rows_per_slice)

    @property
    def total(self) -> int:
        return sum(self.rows_per_slice)

    def heaviest_shares(self) -> list[tuple[str, int, float]]:
        total = self.total or 1
        return [(value, rows, rows / total) for value, rows in self.heaviest]


@dataclass(frozen=True)
class Suggestion:
    dist_style: str  # "KEY", "EVEN" or "ALL"
    dist_key: str | None
    reason: str

    @property
    def ddl(self) -> str:
        return f"DISTSTYLE KEY DISTKEY({self.dist_key})" if self.dist_style == "KEY" else f"DISTSTYLE {self.dist_style}"


def suggest_distribution(
    current_key: str | None,
    spreads: Sequence[KeySpread],
    table_rows: int,
    threshold: float = DEFAULT_SKEW_THRESHOLD,
    small_table_rows: int = SMALL_TABLE_ROWS,
) -> Suggestion:
    """Keep the current key if it spreads well; else the best-spreading candidate (candidates
    are the key and join columns, so a KEY choice still collocates joins); else EVEN. Small
    tables go to ALL whatever their keys do."""
    if table_rows <= small_table_rows:
        return Suggestion("ALL", None, f"{table_rows:,} rows: small enough to copy to every node")
    by_column = {s.column: s for s in spreads}
    if current_key in by_column and by_column[current_key].ratio < threshold:
        return Suggestion("KEY", current_key, f"{current_key} spreads rows with skew {by_column[current_key].ratio:.2f}")
    good = sorted((s for s in spreads if s.ratio < threshold), key=lambda s: s.ratio)
    if good:
        best = good[0]
        return Suggestion("KEY", best.column, f"{best.column} would give skew {best.ratio:.2f} (below {threshold:.2f})")
    return Suggestion("EVEN", None, f"no candidate column spreads rows below skew {threshold:.2f}")


def slice_bars(rows_per_slice: Sequence[int], width: int = 30) -> list[str]:
    """One bar per slice, scaled to the fullest: a text column of the check's per-slice table,
    which the UI shows inline (a markdown chart would sit behind a "Show Markdown" button)."""
    peak = max(rows_per_slice) if rows_per_slice and max(rows_per_slice) else 1
    return ["█" * max(0, round(width * rows / peak)) for rows in rows_per_slice]
