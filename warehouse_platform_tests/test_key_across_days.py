"""Across days, the key is the unit of truth: for every key, raw_data holds exactly the source's
current row, in the day of its latest change, whatever order days are staged, loaded, re-run or
re-executed in. Real embedded Postgres (source and warehouse), the platform's own extract, stage
and load; the stateful property test at the end interleaves all of it."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from warehouse_platform.contract.table_spec import DeletePolicy
from warehouse_platform_tests.key_truth_harness import PURCHASES, KeyTruthHarness, Staged

D = date(2026, 11, 10)


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)


@pytest.fixture(params=["swap", "staging"])
def load_path(request, monkeypatch) -> str:
    """Both load paths of a day table run for real on Postgres: the partition swap (the local
    default) and Redshift's staging-table path (PLATFORM_DAY_LOAD_PATH=staging)."""
    monkeypatch.setenv("PLATFORM_DAY_LOAD_PATH", request.param)
    return request.param


@pytest.fixture
def harness(load_path, platform_env) -> KeyTruthHarness:
    return KeyTruthHarness(platform_env)


def test_a_lookback_day_loaded_after_a_later_day_never_loses_the_refund_that_moved_its_purchase(harness):
    harness.put("p1", 900, False, None, at(D))
    harness.put("p2", 500, False, None, at(D))
    stale_d = harness.stage_day(D)  # the schedule re-reads D (a lookback day) ...
    harness.put("p1", 900, True, "refund", at(D + timedelta(days=1)))  # ... the refund moves p1 to D+1
    harness.load(harness.stage_day(D + timedelta(days=1)))
    report = harness.load(stale_d)  # ... and D's load step runs last
    assert harness.differences() == []
    assert report.rows_superseded == 1 and not report.already_loaded
    # Re-reading D+1 is a no-op through the ledger, and the refund is still there.
    assert harness.load(harness.stage_day(D + timedelta(days=1))).already_loaded
    assert harness.differences() == []


def test_a_row_whose_cursor_moves_back_outside_the_lookback_is_loaded_into_the_day_it_now_lives_in(harness):
    harness.put("p1", 900, False, None, at(D))
    harness.put("p2", 500, False, None, at(D))
    harness.load(harness.stage_day(D))
    # A clock-skewed server (or a restored row) moves p1 two days back; only D is re-read.
    harness.put("p1", 901, False, "skewed", at(D - timedelta(days=2), 23))
    report = harness.load(harness.stage_day(D))
    assert report.rows_moved == 1
    assert harness.differences() == []


def test_a_key_the_source_deleted_leaves_the_day_it_was_read_from(harness):
    harness.put("p1", 900, False, None, at(D))
    harness.put("p2", 500, False, None, at(D))
    harness.load(harness.stage_day(D))
    harness.delete("p1")
    harness.load(harness.stage_day(D))
    assert harness.differences() == []


@pytest.mark.parametrize("policy", ["hard", "keep", "soft(deleted_at)"])
def test_a_replaced_day_applies_its_delete_policy_to_the_keys_the_source_no_longer_holds(load_path, platform_env, policy):
    """A daily table loaded by replacing its day (no cursor): its re-read is the day's truth under
    `deletes: hard`; under keep and soft the rows of vanished keys stay (soft: marked)."""
    from dataclasses import replace

    from warehouse_platform.contract.table_spec import DeletePolicy, LoadMode
    from warehouse_platform_tests.key_truth_harness import PURCHASES

    spec = replace(
        PURCHASES, mode=LoadMode.REPLACE, incremental=None, deletes=DeletePolicy.parse(policy),
    )
    harness = KeyTruthHarness(platform_env, spec)
    harness.put("p1", 900, False, None, at(D))
    harness.put("p2", 500, False, None, at(D))
    harness.load(harness.stage_day(D))
    harness.delete("p1")
    harness.put("p2", 400, True, None, at(D, 11))
    harness.load(harness.stage_day(D), allow_shrink=True)
    held = dict(harness.warehouse.query("SELECT id, (amount, deleted_at IS NOT NULL)::text FROM raw_data.purchases"))
    expected = {
        "hard": {"p2": "(400,f)"},
        "keep": {"p1": "(900,f)", "p2": "(400,f)"},
        "soft(deleted_at)": {"p1": "(900,t)", "p2": "(400,f)"},
    }[policy]
    assert held == expected


@pytest.mark.usefixtures("load_path")
def test_reloading_an_earlier_day_takes_a_key_out_of_the_later_day_that_held_it(harness):
    harness.put("p1", 900, False, None, at(D + timedelta(days=1)))
    harness.put("p2", 500, False, None, at(D))
    harness.load(harness.stage_day(D))
    harness.load(harness.stage_day(D + timedelta(days=1)))
    # A skewed clock moves p1's newer row back to D, the earlier day; D is re-read and loaded.
    harness.put("p1", 901, False, "skewed back", at(D, 20))
    harness.load(harness.stage_day(D))
    held = harness.raw_rows()["p1"]
    assert [row[-1] for row in held] == [D], held  # once, in D; not left behind in D+1
    assert harness.differences() == []


@pytest.mark.parametrize("deletes", ["hard", "keep", "soft(deleted_at)"])
def test_a_key_the_source_deleted_follows_the_delete_policy_when_its_day_is_re_read_on_either_path(
    load_path, platform_env, deletes
):
    harness = KeyTruthHarness(platform_env, replace(PURCHASES, deletes=DeletePolicy.parse(deletes)))
    harness.put("p1", 900, False, None, at(D))
    harness.put("p2", 500, False, None, at(D))
    harness.load(harness.stage_day(D))
    before = sorted(harness.warehouse.query("SELECT id, amount, deleted_at, _partition_date FROM raw_data.purchases"))
    harness.delete("p1")
    reread = harness.stage_day(D)
    report = harness.load(reread)
    held = sorted(harness.warehouse.query("SELECT id, amount, deleted_at, _partition_date FROM raw_data.purchases"))
    assert report.keys_deleted == 1
    if deletes == "hard":
        assert held == [before[1]]
    elif deletes == "keep":
        assert held == before
    else:  # marked with when the read saw it gone, once: a later re-read keeps that time
        assert held == [("p1", 900, reread.batch.read_at, D), before[1]]
        harness.load(harness.stage_day(D))
        assert sorted(harness.warehouse.query("SELECT id, amount, deleted_at, _partition_date FROM raw_data.purchases")) == held


def test_a_day_loaded_from_an_old_view_keeps_a_key_another_days_load_moved_into_it_after_that_view(harness):
    harness.put("p1", 900, False, None, at(D + timedelta(days=1)))
    harness.put("p2", 500, False, None, at(D))
    harness.load(harness.stage_day(D + timedelta(days=1)))
    harness.load(harness.stage_day(D))
    harness.put("p2", 501, False, None, at(D))
    old_view_of_d = harness.stage_day(D)  # D read before p1 moves into it (and after p2 changed)
    harness.put("p1", 901, False, "back", at(D, 20))  # p1's cursor moves back to D
    report = harness.load(harness.stage_day(D + timedelta(days=1)))  # p1 left D+1: looked up, routed to D
    assert report.rows_moved == 1
    report = harness.load(old_view_of_d)  # the older view of D, requested before that load, runs last
    assert not report.already_loaded
    assert harness.differences() == []


def test_an_older_view_of_a_day_keeps_a_newer_row_another_days_load_moved_back_into_it(harness):
    harness.put("p1", 900, False, None, at(D))
    harness.put("p2", 500, False, None, at(D))
    harness.load(harness.stage_day(D))
    harness.put("p2", 501, False, None, at(D))
    old_view_of_d = harness.stage_day(D)  # holds p1 as it was (900), and p2's change
    harness.put("p1", 901, True, "refund", at(D + timedelta(days=1)))  # p1 moves to D+1 ...
    harness.load(harness.stage_day(D + timedelta(days=1)))
    harness.put("p1", 902, True, "skewed back", at(D, 23))  # ... and a skewed clock moves it back to D
    assert harness.load(harness.stage_day(D + timedelta(days=1))).rows_moved == 1  # D+1 routes it to D
    report = harness.load(old_view_of_d)  # the older view of D runs last
    assert not report.already_loaded and report.rows_superseded == 1
    assert harness.differences() == []


def test_of_two_reads_the_later_one_wins_whichever_run_was_requested_first(harness):
    # Across days: D's run is requested after D+1's but runs first (reads p1 before its refund).
    harness.put("p1", 900, False, None, at(D))
    read_first = harness.stage_day(D)
    harness.put("p1", 900, True, "refund", at(D + timedelta(days=1)))
    read_second = harness.stage_day(D + timedelta(days=1), requested_earlier_by=60)
    harness.load(read_second)
    assert harness.load(read_first).rows_superseded == 1
    assert harness.differences() == []
    # Within a day: the run requested first reads last, and its load is not refused as older.
    harness.put("p2", 500, False, None, at(D))
    requested_second = harness.stage_day(D)
    harness.put("p2", 501, False, "later", at(D))
    requested_first = harness.stage_day(D, requested_earlier_by=60)
    harness.load(requested_second)
    assert not harness.load(requested_first).already_loaded
    assert harness.differences() == []


def test_a_change_that_did_not_bump_the_cursor_is_taken_from_a_later_read_of_its_day(harness):
    harness.put("p1", 900, False, None, at(D))
    harness.load(harness.stage_day(D))
    harness.put("p1", 950, False, "no bump", at(D))  # same updated_at, other values
    harness.load(harness.stage_day(D))
    assert harness.differences() == []


# The stateful property: source changes (inserts, forward and backward cursor moves, refunds,
# changes without a cursor bump, hard deletes) interleaved with stage and load steps of any day
# in any order, including loading old batches again. Whenever every change has been "settled"
# (some day whose re-read must pick it up was staged after the change, and that batch is its
# day's newest load), raw_data equals the source key by key, every column, each row in its day.

DAYS = [D + timedelta(days=i) for i in range(3)]
KEYS = [f"k{i}" for i in range(5)]
STEPS = int(os.environ.get("KEY_TRUTH_STEPS", "50"))
EXAMPLES = int(os.environ.get("KEY_TRUTH_EXAMPLES", "10"))


class KeysAcrossDays(RuleBasedStateMachine):
    env: dict = {}
    settled_checks = 0  # over all examples: the property must really have been checked

    def __init__(self):
        super().__init__()
        self.h = KeyTruthHarness(self.env)
        self.staged: list[Staged] = []
        self.changes: list[tuple[int, frozenset[date]]] = []  # (when, days whose re-read settles it)
        self.active: dict[date, Staged] = {}  # each day's newest loaded batch (the ledger's view)
        self.day_of: dict[str, date] = {}  # where the source holds each key

    def _changed(self, days) -> None:
        self.changes.append((self.h.tick(), frozenset(days)))

    @rule(key=st.sampled_from(KEYS), day=st.sampled_from(DAYS), hour=st.integers(0, 23), amount=st.integers(1, 999))
    def insert(self, key, day, hour, amount):
        if key in self.day_of:
            return
        self.h.put(key, amount, False, None, at(day, hour))
        self.day_of[key] = day
        self._changed({day})

    @precondition(lambda self: self.day_of)
    @rule(data=st.data(), shift=st.integers(-3, 3), refund=st.booleans(), settle_in_new_day=st.booleans())
    def move(self, data, shift, refund, settle_in_new_day):
        """A refund moves the purchase forward; a skewed clock moves it back (shift 0: a change
        in place). Either day's re-read must find it: the day it left looks it up in the source."""
        key = data.draw(st.sampled_from(sorted(self.day_of)))
        old = self.day_of[key]
        new = min(max(old + timedelta(days=shift), DAYS[0]), DAYS[-1])
        hour = data.draw(st.integers(0, 23))
        self.h.put(key, data.draw(st.integers(1, 999)), refund, "refund" if refund else "moved", at(new, hour))
        self.day_of[key] = new
        self._changed({new} if settle_in_new_day or new == old else {old})

    @precondition(lambda self: self.day_of)
    @rule(data=st.data())
    def change_without_cursor_bump(self, data):
        key = data.draw(st.sampled_from(sorted(self.day_of)))
        [(_, _, refunded, _, updated_at)] = [r for k, r in self.h.source_rows().items() if k == key]
        self.h.put(key, data.draw(st.integers(1, 999)), refunded, "no bump", updated_at)
        self._changed({self.day_of[key]})

    @precondition(lambda self: self.day_of)
    @rule(data=st.data())
    def hard_delete(self, data):
        key = data.draw(st.sampled_from(sorted(self.day_of)))
        self.h.delete(key)
        self._changed({self.day_of.pop(key)})

    @rule(day=st.sampled_from(DAYS), requested_earlier_by=st.sampled_from([0, 0, 5]))
    def stage(self, day, requested_earlier_by):
        """A run of the day stages it now; it may have been requested before runs that already
        ran (it waited in the queue), so request order and read order differ."""
        self.staged.append(self.h.stage_day(day, requested_earlier_by=requested_earlier_by))

    @precondition(lambda self: self.staged)
    @rule(data=st.data())
    def load_any_staged_batch(self, data):
        """Any batch, fresh or long superseded, loaded for the first time or again (a retry, a
        re-executed run)."""
        staged = self.staged[data.draw(st.integers(0, len(self.staged) - 1), label="batch #")]
        report = self.h.load(staged, allow_shrink=True)  # the source really shrinks (hard deletes)
        if not report.already_loaded:
            self.active[staged.day] = staged

    @rule(data=st.data())
    def reread_every_day_in_any_order(self, data):
        """What the schedule and backfills do, in whatever order runs finish."""
        fresh = [self.h.stage_day(day) for day in DAYS]
        self.staged.extend(fresh)
        for i in data.draw(st.permutations(range(len(fresh))), label="load order"):
            staged = fresh[i]
            report = self.h.load(staged, allow_shrink=True)
            if not report.already_loaded:
                self.active[staged.day] = staged

    def teardown(self):
        """Every walk ends settled: each day read again and loaded, newest read last."""
        for day in DAYS:
            staged = self.h.stage_day(day)
            if not self.h.load(staged, allow_shrink=True).already_loaded:
                self.active[day] = staged
        self.raw_data_is_the_source_key_by_key_once_settled()

    def _settled(self) -> bool:
        return all(
            any(day in self.active and self.active[day].order > when for day in days) for when, days in self.changes
        )

    @invariant()
    def raw_data_is_the_source_key_by_key_once_settled(self):
        if self._settled() and self.changes:
            KeysAcrossDays.settled_checks += 1
            assert self.h.differences() == []


def test_for_every_key_raw_data_holds_the_sources_current_row_whatever_the_order_of_days(load_path, platform_env):
    """KEY_TRUTH_STEPS and KEY_TRUTH_EXAMPLES make it longer; derandomized: the same walk every
    run, and a failure prints every step that led to it."""
    KeysAcrossDays.env, KeysAcrossDays.settled_checks = platform_env, 0
    run_state_machine_as_test(
        KeysAcrossDays,
        settings=settings(
            max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck), print_blob=True,
            # KEY_TRUTH_SHRINK=0: report the first failing walk as found (shrinking replays it
            # against the databases many times: minutes).
            phases=[p for p in Phase if p != Phase.shrink or os.environ.get("KEY_TRUTH_SHRINK", "1") == "1"],
        ),
    )
    assert KeysAcrossDays.settled_checks >= EXAMPLES, "the walk never settled: the property was not checked"
