"""A loaded day's rows against the loaded days before it, in words: what the row_volume check
reports (quality/evaluations.py) and what a load of an empty day puts beside its "0 rows"
(warehouse/io_manager.py). The rule itself is rules/row_volume.py."""

from dataclasses import dataclass
from datetime import date, timedelta

from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.rules import row_volume
from warehouse_platform.sql import quality as quality_sql
from warehouse_platform.warehouse.resources import Warehouse

# How far back the row-volume check looks for its trailing loaded days.
ROW_VOLUME_LOOKBACK_DAYS = 31


@dataclass(frozen=True)
class DayVolume:
    day_rows: int
    # The loaded days before it, most recent first (at most row_volume.TRAILING_DAYS).
    trailing: list[tuple[date, int]]
    verdict: row_volume.VolumeVerdict
    description: str

    @property
    def passed(self) -> bool:
        return self.verdict.volume in (row_volume.Volume.NORMAL, row_volume.Volume.NO_HISTORY)


def day_volume(warehouse: Warehouse, spec: TableSpec, partition_key: str) -> DayVolume:
    """A day's rows against the median of up to 7 loaded days before it (within 31 days)."""
    day = date.fromisoformat(partition_key)
    rows_by_day = dict(warehouse.query(
        quality_sql.rows_per_day_sql(spec),
        {"partition_date": day, "window_start": day - timedelta(days=ROW_VOLUME_LOOKBACK_DAYS)},
    ))
    day_rows = int(rows_by_day.pop(day, 0))
    trailing = [(d, int(n)) for d, n in sorted(rows_by_day.items(), reverse=True)[: row_volume.TRAILING_DAYS]]
    verdict = row_volume.row_volume_verdict(day_rows, [n for _, n in trailing])
    compared = f"a median of {verdict.trailing_median or 0:,.0f} over the {len(trailing)} loaded days before it"
    if verdict.volume == row_volume.Volume.NO_HISTORY:
        described = f"{day_rows:,} rows on {partition_key}; no earlier loaded day to compare with"
    elif verdict.volume == row_volume.Volume.NORMAL:
        described = f"{day_rows:,} rows on {partition_key}, against {compared}"
    elif verdict.volume == row_volume.Volume.SHARP_DROP:
        described = f"{day_rows:,} rows on {partition_key} is below half of {compared}: a thin day (source lagging, a broken extract?)"
    else:
        described = f"{partition_key} holds no rows, against {compared}: the source lost the day, or a load was allowed to empty it"
    return DayVolume(day_rows, trailing, verdict, described)
