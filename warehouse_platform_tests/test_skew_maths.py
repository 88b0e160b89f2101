"""Skew maths and the Redshift SQL behind the skew check (text and parsed)."""

import math

import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from warehouse_platform.catalog import table
from warehouse_platform.rules.skew import (
    KeySpread,
    advise_distribution,
    skew_ratio,
    slice_bars,
)
from warehouse_platform.sql import quality as quality_sql
from warehouse_platform.sql.model_joins import joined_columns, resolved_sql
from warehouse_platform.transform.project import dbt_model_joins

USER_SESSION_CHANNEL = table("user_session_channel")


def test_skew_ratio_is_fullest_over_emptiest_slice():
    assert skew_ratio([100, 100, 100, 100]) == 1.0
    assert skew_ratio([400, 100, 100, 100]) == 4.0
    assert skew_ratio([5, 0, 1, 1]) == math.inf
    assert skew_ratio([0, 0]) == 1.0 and skew_ratio([]) == 1.0


def _spread(column, rows):
    return KeySpread(column, tuple(rows), ())


EVEN_SPREAD = [300, 310, 290, 300]
PILED_UP = [900, 100, 100, 100]


@pytest.mark.parametrize(
    ("spreads", "rows", "whole", "joins", "expected"),
    [
        # A daily fact table joined on sessionid: KEY(sessionid), however small it is today.
        ([_spread("userid", PILED_UP), _spread("sessionid", EVEN_SPREAD)], 5_000, False, {"sessionid": 2}, ("KEY", "sessionid")),
        # The declared key spreads well and is the join column: kept.
        ([_spread("userid", EVEN_SPREAD), _spread("sessionid", EVEN_SPREAD)], 10**6, False, {"userid": 1}, ("KEY", "userid")),
        # The joined column would skew: EVEN, not a key that collocates nothing.
        ([_spread("userid", PILED_UP), _spread("sessionid", EVEN_SPREAD)], 10**6, False, {"userid": 3}, ("EVEN", None)),
        # No model joins it: EVEN, even though a column spreads well.
        ([_spread("userid", EVEN_SPREAD)], 10**6, False, {}, ("EVEN", None)),
        # Models unknown: the declared DISTKEY stands for the joins.
        ([_spread("userid", EVEN_SPREAD), _spread("sessionid", EVEN_SPREAD)], 10**6, False, None, ("KEY", "userid")),
        # The join column that joins most wins over the current key.
        ([_spread("userid", EVEN_SPREAD), _spread("sessionid", EVEN_SPREAD)], 10**6, False, {"userid": 1, "sessionid": 2}, ("KEY", "sessionid")),
        # A small whole table (a dimension): ALL.
        ([_spread("userid", PILED_UP)], 5_000, True, {"userid": 1}, ("ALL", None)),
        # A whole table over the bound is advised like a daily one.
        ([_spread("userid", EVEN_SPREAD)], 100_001, True, {"userid": 1}, ("KEY", "userid")),
    ],
    ids=["daily-joined-key", "keep-current", "joined-column-skews", "no-joins", "declared-key-for-joins",
         "most-joined", "small-dimension-all", "large-dimension-key"],
)
def test_advice_follows_awss_rule_for_the_tables_future(spreads, rows, whole, joins, expected):
    advice = advise_distribution("userid", spreads, rows, whole=whole, joins=joins)
    assert (advice.dist_style, advice.dist_key) == expected
    _one_sentence(advice.reason)


def _one_sentence(reason: str) -> None:
    assert reason.endswith(".") and ". " not in reason.rstrip("."), reason


def test_too_few_rows_to_judge_skew_rule_no_joined_column_out():
    spreads = [_spread("sessionid", [9, 1, 2, 3])]  # 15 rows: a skew of 9.00 is noise
    advice = advise_distribution("sessionid", spreads, 15, whole=False, joins={"sessionid": 1}, rows_to_judge=400)
    assert (advice.dist_style, advice.dist_key) == ("KEY", "sessionid")
    assert "too few rows (15) to judge its skew yet" in advice.reason
    assert advise_distribution("sessionid", spreads, 15, whole=False, joins={"sessionid": 1}).dist_style == "EVEN"


def test_the_all_bound_is_inclusive_and_configurable():
    spreads = [_spread("userid", EVEN_SPREAD)]
    assert advise_distribution("userid", spreads, 100_000, whole=True, joins={"userid": 1}).dist_style == "ALL"
    assert advise_distribution("userid", spreads, 500, whole=True, joins={"userid": 1}, all_rows_bound=499).dist_style == "KEY"
    assert "100,000-row bound" in advise_distribution("userid", spreads, 10, whole=True, joins=None).reason


_columns = st.sampled_from(["userid", "sessionid", "channel"])
_spreads = st.lists(
    st.builds(lambda c, rows: KeySpread(c, tuple(rows), ()), _columns, st.lists(st.integers(0, 10**9), min_size=1, max_size=8)),
    max_size=3, unique_by=lambda s: s.column,
)


@settings(max_examples=300, deadline=None)
@given(
    current=st.one_of(st.none(), _columns), spreads=_spreads, rows=st.integers(0, 10**12),
    joins=st.one_of(st.none(), st.dictionaries(_columns, st.integers(0, 5))),
    threshold=st.floats(1.0, 100.0), bound=st.integers(0, 10**12), to_judge=st.integers(0, 10**4),
)
def test_a_daily_table_is_never_advised_all(current, spreads, rows, joins, threshold, bound, to_judge):
    advice = advise_distribution(
        current, spreads, rows, whole=False, joins=joins, threshold=threshold, all_rows_bound=bound, rows_to_judge=to_judge
    )
    assert advice.dist_style != "ALL"
    # A KEY advice names a column that a join uses and, once there are rows enough to judge,
    # that spreads rows under the threshold.
    if advice.dist_style == "KEY":
        chosen = {s.column: s for s in spreads}[advice.dist_key]
        assert chosen.ratio < threshold or rows < to_judge
        assert (joins or {}).get(advice.dist_key, 0) > 0 or (joins is None and advice.dist_key == current)
    _one_sentence(advice.reason)


@settings(max_examples=200, deadline=None)
@given(current=_columns, spreads=_spreads, rows=st.integers(0, 10**12), bound=st.integers(0, 10**12))
def test_a_whole_table_is_advised_all_exactly_when_it_is_within_the_bound(current, spreads, rows, bound):
    advice = advise_distribution(current, spreads, rows, whole=True, joins=None, all_rows_bound=bound)
    assert (advice.dist_style == "ALL") == (rows <= bound)


def test_the_models_joins_are_read_from_their_sql():
    sql = resolved_sql(
        "-- depends_on: {{ source('raw', 'channel') }}\n{{ config(materialized='table') }}\n"
        "select * from {{ source('raw', 'a') }} x join {{ ref('m') }} y on y.id = x.id and x.k > 0 "
        "left join {{ source('raw', 'b') }} on b.sessionid = x.sessionid "
        "join (select 1 as id) z on z.id = x.id",
        {"m": "analytics"}, {"raw": "raw_data"},
    )
    assert joined_columns(sql) == {
        ("raw_data.a", "id"): 2, ("analytics.m", "id"): 1, ("raw_data.b", "sessionid"): 1, ("raw_data.a", "sessionid"): 1,
    }


def test_the_shipped_models_join_the_session_tables_on_sessionid():
    joins = dbt_model_joins()
    assert joins["raw_data.user_session_channel"] == {"sessionid": 2}
    assert joins["raw_data.session_timestamp"] == {"sessionid": 1}
    assert joins["raw_data.users"] == {"userid": 1}


def test_bars_scale_to_the_fullest_slice():
    assert slice_bars([10, 5, 0], width=10) == ["██████████", "█████", ""]


def _parse(sql):
    return sqlglot.parse_one(sql.replace("%(schema)s", "'raw_data'").replace("%(table)s", "'t'"), read="redshift")


def test_redshift_skew_sql_reads_svv_table_info_and_slices_and_parses():
    info = _parse(quality_sql.REDSHIFT_TABLE_INFO_SQL)
    assert isinstance(info, exp.Select) and "svv_table_info" in info.sql().lower() and "skew_rows" in info.sql()
    per_slice = _parse(quality_sql.REDSHIFT_ROWS_PER_SLICE_SQL)
    assert "stv_tbl_perm" in per_slice.sql().lower()
    emulated = quality_sql.rows_per_slice_sql(USER_SESSION_CHANNEL, "sessionid", 4, "redshift")
    assert emulated == (
        'SELECT coalesce(abs(FNV_HASH("sessionid") % 4), 0) AS slice, count(*) FROM "raw_data"."user_session_channel" '
        'GROUP BY coalesce(abs(FNV_HASH("sessionid") % 4), 0) ORDER BY 1'
    )
    assert isinstance(_parse(emulated), exp.Select)
    assert "hashtext" in quality_sql.rows_per_slice_sql(USER_SESSION_CHANNEL, "userid", 4, "postgres")
    summary, sample = quality_sql.duplicate_keys_sql(USER_SESSION_CHANNEL, partition=True)
    for sql in (summary, sample):
        assert isinstance(_parse(sql.replace("%(partition_date)s", "'2026-11-01'")), exp.Select)
