"""The two row-volume rules, as pure functions: when a load may replace a day, and how a loaded
day compares with the days before it."""

from warehouse_platform.rules.row_volume import Volume, row_volume_verdict, shrink_refusal


def test_a_load_may_not_leave_less_than_half_of_a_non_empty_day():
    refused = shrink_refusal("raw_data.t", "2026-11-01", 2000, 0, allowed=False)
    assert refused.startswith("refused to replace raw_data.t day 2026-11-01: it holds 2,000 rows and this load offers 0 (nothing)")
    assert "less than half" in shrink_refusal("raw_data.t", None, 2000, 999, allowed=False)
    assert "the table" in shrink_refusal("raw_data.t", None, 2000, 999, allowed=False)
    assert shrink_refusal("raw_data.t", "2026-11-01", 2000, 1000, allowed=False) is None  # half is kept
    assert shrink_refusal("raw_data.t", "2026-11-01", 0, 0, allowed=False) is None  # nothing to lose
    assert shrink_refusal("raw_data.t", "2026-11-01", 2000, 0, allowed=True) is None  # the run allows it
    assert shrink_refusal("raw_data.t", "2026-11-01", 2000, 5000, allowed=False) is None


def test_a_day_is_judged_against_the_median_of_the_loaded_days_before_it():
    assert row_volume_verdict(10, []).volume == Volume.NO_HISTORY
    assert row_volume_verdict(0, [0, 0]).volume == Volume.NO_HISTORY  # empty days are not loaded days
    verdict = row_volume_verdict(0, [100, 90])
    assert (verdict.volume, verdict.trailing_median) == (Volume.EMPTY, 95.0)
    verdict = row_volume_verdict(49, [100, 100, 10, 100])
    assert (verdict.volume, verdict.trailing_median) == (Volume.SHARP_DROP, 100.0)
    assert row_volume_verdict(50, [100, 100, 10, 100]).volume == Volume.NORMAL
    # Only the 7 most recent loaded days count: an old busy week does not make today look thin.
    assert row_volume_verdict(10, [10] * 7 + [1000] * 20).volume == Volume.NORMAL
    assert row_volume_verdict(10, [0, 0, 10]).trailing_median == 10.0
