"""Deterministic user/session data, shaped like the application's tables.

Each day is generated from its own seed (base seed + day), so any set of days can be produced
in any order and always gives the same rows: the source can be extended a day at a time and
tests can recompute expected totals independently of the warehouse.

Rows also change after the day they were created, as in a real application: every refund
arrives 1 to 5 days after its purchase (the transaction's `refunded` flips and `updated_at`
moves to the refund time), and some users change country, or are deleted (a soft delete:
`deleted_at` is set), weeks after signing up. `transactions_as_of` and `users_as_of` give what
the application's tables hold once everything up to the end of a given day has happened: the
source's truth "as of" that day, which tests compare the warehouse with.

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
# A refund arrives between 1 and 5 days after its purchase (in seconds).
REFUND_DELAY_SECONDS = (86_400, 5 * 86_400)


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
    # Whether the purchase is refunded at some point, and when (1-5 days after the purchase).
    txn_refunded: list[bool]
    txn_ts: list[datetime]
    txn_refund_at: list[datetime | None]
    # When the application deletes the purchase outright (a purge of test or fraudulent orders,
    # 2-12 days after it): the row leaves app.transactions. None for most purchases.
    txn_deleted_at: list[datetime | None]


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
    # Its own generator, so adding refund times left every figure above unchanged.
    refund_delay = np.random.default_rng([config.seed, day.toordinal(), int(config.skewed), 1]).integers(
        REFUND_DELAY_SECONDS[0], REFUND_DELAY_SECONDS[1], size=n, endpoint=True
    )
    ts = [start + timedelta(microseconds=int(s)) for s in seconds]
    return DayOfSessions(
        day=day,
        sessionid=sessionid,
        userid=[int(u) for u in userid],
        channel=[CHANNELS[i] for i in channel_idx],
        ts=ts,
        txn_sessionid=[sessionid[i] for i in paid_idx],
        txn_amount=[int(amounts[i]) for i in paid_idx],
        txn_refunded=[bool(refunded[i]) for i in paid_idx],
        txn_ts=[ts[i] for i in paid_idx],
        txn_refund_at=[ts[i] + timedelta(seconds=int(refund_delay[i])) if refunded[i] else None for i in paid_idx],
        txn_deleted_at=[_deleted_at(sessionid[i], ts[i]) for i in paid_idx],
    )


# Shares of rows the application hard-deletes (the row is gone, not marked): decided by the
# row's id, not by a draw, so every figure drawn above is unchanged.
DELETED_PURCHASE_SHARE = 0.02
ERASED_USER_SHARE = 0.005


def _id_fraction(text: str, salt: str) -> float:
    """A stable number in [0, 1) for an id: which rows are deleted, and when."""
    return int(hashlib.md5(f"{salt}:{text}".encode()).hexdigest()[:12], 16) / 16**12


def _deleted_at(sessionid: str, ts: datetime) -> datetime | None:
    if _id_fraction(sessionid, "purge") >= DELETED_PURCHASE_SHARE:
        return None
    return ts + timedelta(days=2) + timedelta(days=10) * _id_fraction(sessionid, "purge-delay")


def end_of(day: date) -> datetime:
    """The first instant after `day`: what happened before it has happened "as of" the day."""
    return datetime(day.year, day.month, day.day) + timedelta(days=1)


@dataclass(frozen=True)
class TransactionRow:
    sessionid: str
    amount: int
    refunded: bool
    updated_at: datetime


def transactions_as_of(data: DayOfSessions, as_of: date) -> list[TransactionRow]:
    """A day's purchases as app.transactions holds them at the end of `as_of`: a refund that
    has arrived by then flipped `refunded` and moved `updated_at` to its time."""
    cutoff = end_of(as_of)
    rows = []
    for sid, amount, ts, refund_at, deleted_at in zip(
        data.txn_sessionid, data.txn_amount, data.txn_ts, data.txn_refund_at, data.txn_deleted_at
    ):
        if ts >= cutoff:
            continue  # not purchased yet
        if deleted_at is not None and deleted_at < cutoff:
            continue  # purged by the application
        refunded = refund_at is not None and refund_at < cutoff
        rows.append(TransactionRow(sid, amount, refunded, refund_at if refunded else ts))
    return rows


COUNTRIES = ("KR", "US", "JP", "DE", "BR", "IN")
# Users sign up in the month before the platform's history starts; changes come later.
SIGNUP_PERIOD = (datetime(2026, 9, 1), datetime(2026, 10, 1))
CHANGE_PERIOD = (datetime(2026, 10, 1), datetime(2027, 1, 1))
COUNTRY_CHANGE_SHARE = 0.10
DELETED_SHARE = 0.01


@dataclass(frozen=True)
class UserRow:
    userid: int
    signup_at: datetime
    country: str
    updated_at: datetime
    deleted_at: datetime | None


def _instants(rng: np.random.Generator, period: tuple[datetime, datetime], n: int) -> list[datetime]:
    span = int((period[1] - period[0]).total_seconds())
    return [period[0] + timedelta(seconds=int(s)) for s in rng.integers(0, span, size=n)]


def users_as_of(as_of: date, config: GeneratorConfig = GeneratorConfig()) -> list[UserRow]:
    """app.users at the end of `as_of`: every user signed up by then (ids 1..user_count, the ids
    sessions use), with the country changes and deletions that happened by then: most deleted
    users are marked (deleted_at), a few are erased (the row removed, as a privacy request asks)."""
    rng = np.random.default_rng([config.seed, int(config.skewed), 7])
    n = config.user_count
    signup = _instants(rng, SIGNUP_PERIOD, n)
    first = rng.integers(0, len(COUNTRIES), size=n)
    changes = rng.random(n) < COUNTRY_CHANGE_SHARE
    shift = rng.integers(1, len(COUNTRIES), size=n)  # never "changes" to the same country
    change_at = _instants(rng, CHANGE_PERIOD, n)
    deleted = rng.random(n) < DELETED_SHARE
    delete_at = _instants(rng, CHANGE_PERIOD, n)
    cutoff = end_of(as_of)
    rows = []
    for i in range(n):
        if signup[i] >= cutoff or _erased_at(i + 1) < cutoff:
            continue
        changed = bool(changes[i]) and change_at[i] < cutoff
        gone = bool(deleted[i]) and delete_at[i] < cutoff
        updated = max([signup[i], *([change_at[i]] if changed else []), *([delete_at[i]] if gone else [])])
        country = COUNTRIES[(first[i] + shift[i]) % len(COUNTRIES)] if changed else COUNTRIES[first[i]]
        rows.append(UserRow(i + 1, signup[i], country, updated, delete_at[i] if gone else None))
    return rows


def _erased_at(userid: int) -> datetime:
    """When the application erases the user's row (datetime.max: never)."""
    if _id_fraction(str(userid), "erase") >= ERASED_USER_SHARE:
        return datetime.max
    return CHANGE_PERIOD[0] + (CHANGE_PERIOD[1] - CHANGE_PERIOD[0]) * _id_fraction(str(userid), "erase-at")


def days_between(start: date, end_inclusive: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end_inclusive - start).days + 1)]
