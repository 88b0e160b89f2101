"""Deterministic user/session data, shaped like the application's tables.

Each day is generated from its own seed (base seed + day), so any set of days can be produced
in any order and always gives the same rows: the source can be extended a day at a time and
tests can recompute expected totals independently of the warehouse.

Users have a heavy-tailed number of sessions (Zipf-like weights over a fixed user pool);
`skewed=True` steepens that so a handful of users own most sessions, which is what a bad
DISTKEY on userid turns into slice skew.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

CHANNELS = ("Google", "Facebook", "Naver", "Instagram", "Youtube", "Organic")
_CHANNEL_WEIGHTS = np.array([0.30, 0.20, 0.18, 0.14, 0.10, 0.08])

BASE_SESSIONS_PER_DAY = 2_000
BASE_USERS = 5_000
PAID_SHARE = 0.08
REFUND_SHARE = 0.12
# Sessions opened in the same microsecond as the user's previous one (two tabs): attribution
# must break such ties by its declared rule, and only data with ties can show that it does.
SAME_TIME_SHARE = 0.03


@dataclass(frozen=True)
class GeneratorConfig:
    seed: int = 42
    scale: float = 1.0
    skewed: bool = False

    @property
    def sessions_per_day(self) -> int:
        return max(1, round(BASE_SESSIONS_PER_DAY * self.scale))

    @property
    def user_count(self) -> int:
        return max(10, round(BASE_USERS * self.scale))


@dataclass(frozen=True)
class DayOfSessions:
    day: date
    sessionid: list[str]
    userid: list[int]
    channel: list[str]
    ts: list[datetime]
    # Transactions: a subset of the day's sessions.
    txn_sessionid: list[str]
    txn_amount: list[int]
    txn_refunded: list[bool]


def _rng(config: GeneratorConfig, day: date) -> np.random.Generator:
    return np.random.default_rng([config.seed, day.toordinal(), int(config.skewed)])


def _user_weights(config: GeneratorConfig) -> np.ndarray:
    ranks = np.arange(1, config.user_count + 1, dtype=float)
    weights = 1.0 / ranks ** (2.2 if config.skewed else 0.8)
    return weights / weights.sum()


def _session_id(config: GeneratorConfig, day: date, index: int) -> str:
    # 32 hex characters, the width of the contract's varchar(32)
    return hashlib.md5(f"{config.seed}:{day.isoformat()}:{index}".encode()).hexdigest()


def generate_day(day: date, config: GeneratorConfig = GeneratorConfig()) -> DayOfSessions:
    rng = _rng(config, day)
    # Weekly rhythm: weekends carry 25% fewer sessions.
    n = max(1, round(config.sessions_per_day * (0.75 if day.weekday() >= 5 else 1.0)))
    userid = rng.choice(config.user_count, size=n, p=_user_weights(config)) + 1
    channel_idx = rng.choice(len(CHANNELS), size=n, p=_CHANNEL_WEIGHTS)
    seconds = np.sort(rng.integers(0, 86_400_000_000, size=n))  # microseconds into the day
    start = datetime(day.year, day.month, day.day)
    paid = rng.random(n) < PAID_SHARE
    amounts = rng.integers(1, 200, size=n) * 100
    refunded = rng.random(n) < REFUND_SHARE
    # Drawn last, so the draws above (and every earlier figure) are unchanged.
    for i in np.flatnonzero(rng.random(n) < SAME_TIME_SHARE):
        if len(earlier := np.flatnonzero(userid[:i] == userid[i])):
            seconds[i] = seconds[earlier[-1]]

    sessionid = [_session_id(config, day, i) for i in range(n)]
    paid_idx = np.flatnonzero(paid)
    return DayOfSessions(
        day=day,
        sessionid=sessionid,
        userid=[int(u) for u in userid],
        channel=[CHANNELS[i] for i in channel_idx],
        ts=[start + timedelta(microseconds=int(s)) for s in seconds],
        txn_sessionid=[sessionid[i] for i in paid_idx],
        txn_amount=[int(amounts[i]) for i in paid_idx],
        txn_refunded=[bool(refunded[i]) for i in paid_idx],
    )


def days_between(start: date, end_inclusive: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end_inclusive - start).days + 1)]
