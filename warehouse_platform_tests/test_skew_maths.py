"""Skew maths and the Redshift SQL behind the skew check (text and parsed)."""

import math

import pytest
import sqlglot
from sqlglot import exp

from warehouse_platform.catalog import table
from warehouse_platform.rules.skew import (
    KeySpread,
    skew_ratio,
    slice_bars,
    suggest_distribution,
)
from warehouse_platform.sql import quality as quality_sql

USER_SESSION_CHANNEL = table("user_session_channel")


def test_skew_ratio_is_fullest_over_emptiest_slice():
    assert skew_ratio([100, 100, 100, 100]) == 1.0
    assert skew_ratio([400, 100, 100, 100]) == 4.0
    assert skew_ratio([5, 0, 1, 1]) == math.inf
    assert skew_ratio([0, 0]) == 1.0 and skew_ratio([]) == 1.0


def _spread(column, rows):
    return KeySpread(column, tuple(rows), ())


@pytest.mark.parametrize(
    ("spreads", "rows", "expected"),
    [
        ([_spread("userid", [900, 100, 100, 100]), _spread("sessionid", [300, 310, 290, 300])], 10**6, ("KEY", "sessionid")),
        ([_spread("userid", [300, 310, 290, 300]), _spread("sessionid", [300, 301, 300, 300])], 10**6, ("KEY", "userid")),
        ([_spread("userid", [900, 100, 100, 100]), _spread("channel", [900, 0, 50, 50])], 10**6, ("EVEN", None)),
        ([_spread("userid", [900, 100, 100, 100])], 5_000, ("ALL", None)),
    ],
    ids=["better-key", "keep-current", "even", "small-all"],
)
def test_suggestions(spreads, rows, expected):
    suggestion = suggest_distribution("userid", spreads, rows)
    assert (suggestion.dist_style, suggestion.dist_key) == expected
    assert suggestion.reason


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
