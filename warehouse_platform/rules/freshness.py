"""Freshness of a table loaded by day: judged on the newest day it holds, not on when it was
last written (a re-run of an old day writes today and makes nothing fresher)."""

from __future__ import annotations

from datetime import date, timedelta


def days_behind(newest_day: date | None, today: date) -> int | None:
    """Days the newest loaded day lags behind yesterday (the newest complete day) in the business
    time zone: 0 or less is fresh; None when nothing is loaded."""
    if newest_day is None:
        return None
    return ((today - timedelta(days=1)) - newest_day).days


def is_fresh(newest_day: date | None, today: date) -> bool:
    behind = days_behind(newest_day, today)
    return behind is not None and behind <= 0
