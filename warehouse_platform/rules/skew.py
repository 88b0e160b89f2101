"""Distribution skew: how unevenly a DISTKEY spreads rows over slices, and what to use instead.

Redshift reports skew as `skew_rows` in SVV_TABLE_INFO: rows on the fullest slice divided by
rows on the emptiest. AWS's tuning guidance is to reconsider a table's distribution style at a
skew of 4.00 or more, which is our default warning threshold. EVEN and ALL tables have no
skew_rows (the rows are spread round-robin, or copied to every node), so the check reports
them as not applicable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_SKEW_THRESHOLD = 4.0
# The largest whole table (a dimension) advised DISTSTYLE ALL. Redshift's AUTO starts small
# tables as ALL; this many rows cost little to copy to every node. Stated in the check's metadata.
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


def advise_distribution(
    current_key: str | None,
    spreads: Sequence[KeySpread],
    table_rows: int,
    *,
    whole: bool,
    joins: Mapping[str, int] | None,
    threshold: float = DEFAULT_SKEW_THRESHOLD,
    all_rows_bound: int = SMALL_TABLE_ROWS,
    rows_to_judge: int = 0,
) -> Suggestion:
    """Distribution advice for where the table is going, not for its size today, by AWS's own
    rule ("Choose the best distribution style", Amazon Redshift Database Developer Guide,
    https://docs.aws.amazon.com/redshift/latest/dg/c_best-practices-best-dist-key.html, and
    "Distribution styles", .../c_choosing_dist_sort.html):

    - ALL only for a dimension: AWS gives ALL to tables that cannot be collocated and are
      "relatively slow moving", and warns it "multiplies storage space requirements and increases
      load times". A daily table grows every day, so it is never advised ALL; a whole table only
      at or under `all_rows_bound` rows (the bound is shown beside the advice).
    - KEY on the column the table is joined on ("distribute the fact table and one dimension
      table on their common columns"), when that column spreads rows evenly ("choose a column
      with high cardinality"): a key no join uses collocates nothing.
    - Otherwise EVEN ("if a table ... does not participate in joins, or if you don't have a clear
      choice for another distribution style, use EVEN").

    `joins` is how many joins of the dbt models use each column of the table; None when the
    models are not known, and then the declared DISTKEY stands for the joins. Below
    `rows_to_judge` rows a skew figure is noise (7 rows against 1), so it rules no column out:
    the joined column is advised on its joins alone, and the reason says so. The reason is one
    sentence, shown beside the advice."""
    if whole and table_rows <= all_rows_bound:
        return Suggestion(
            "ALL", None,
            f"a whole table of {table_rows:,} rows, within the {all_rows_bound:,}-row bound for ALL, costs little to "
            "copy to every node and spares each join a redistribution.",
        )
    joined = dict(joins) if joins is not None else ({current_key: 1} if current_key else {})
    source = "join(s) of the dbt models" if joins is not None else "join(s) (the declared DISTKEY; no dbt model is known)"
    growth = "a daily table grows every day, so not ALL" if not whole else f"{table_rows:,} rows is over the {all_rows_bound:,}-row bound for ALL"
    judged = table_rows >= rows_to_judge
    even_enough = [s for s in spreads if (s.ratio < threshold or not judged) and joined.get(s.column, 0) > 0]
    if even_enough:
        best = max(even_enough, key=lambda s: (joined[s.column], s.column == current_key, -s.ratio))
        spread = (
            f"spreads rows with skew {best.ratio:.2f} (under {threshold:.2f})" if judged
            else f"has too few rows ({table_rows:,}) to judge its skew yet"
        )
        return Suggestion(
            "KEY", best.column, f"{best.column} {spread} and {joined[best.column]} {source} on it read their rows in place ({growth}).",
        )
    if not joined:
        why = "no dbt model joins this table, so no DISTKEY collocates a join"
    else:
        why = "every joined column (" + ", ".join(sorted(joined)) + f") would skew rows at {threshold:.2f} or more"
    return Suggestion("EVEN", None, f"{why}, and EVEN spreads rows round-robin ({growth}).")


def slice_bars(rows_per_slice: Sequence[int], width: int = 30) -> list[str]:
    """One bar per slice, scaled to the fullest: a text column of the check's per-slice table,
    which the UI shows inline (a markdown chart would sit behind a "Show Markdown" button)."""
    peak = max(rows_per_slice) if rows_per_slice and max(rows_per_slice) else 1
    return ["█" * max(0, round(width * rows / peak)) for rows in rows_per_slice]
