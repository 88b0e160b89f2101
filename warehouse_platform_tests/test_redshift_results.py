"""RedshiftWarehouse's handling of Redshift's own result rows (skew figures), with rows recorded
in the shapes Redshift documents. Only the network is replaced: `query` returns the rows;
everything that reads them is the platform's code."""

from decimal import Decimal

from warehouse_platform.catalog import table
from warehouse_platform.quality import evaluations
from warehouse_platform.sql import quality as quality_sql
from warehouse_platform.warehouse.resources import RedshiftWarehouse

USER_SESSION_CHANNEL = table("user_session_channel")

# STV_TBL_PERM summed per slice: (slice int, sum(rows) bigint) ordered by slice; the userid DISTKEY
# piles rows on slice 2.
PER_SLICE = [(0, 120), (1, 95), (2, 2410), (3, 101)]
# SVV_TABLE_INFO: diststyle varchar, skew_rows numeric(19,2), tbl_rows numeric(38,0).
TABLE_INFO = [("KEY(userid)", Decimal("25.37"), Decimal("2726"))]


class RecordedRedshift(RedshiftWarehouse):
    def query(self, sql: str, params=None) -> list[tuple]:
        self.__dict__.setdefault("_asked", []).append(sql)
        if sql == quality_sql.REDSHIFT_ROWS_PER_SLICE_SQL:
            assert params == {"schema": "raw_data", "table": "user_session_channel"}
            return PER_SLICE
        if sql == quality_sql.REDSHIFT_TABLE_INFO_SQL:
            return TABLE_INFO
        if "FNV_HASH" in sql:  # another candidate column, hashed over the slices
            return [(0, 700), (1, 680), (2, 660), (3, 686)]
        if "ORDER BY n DESC" in sql:  # heaviest values
            return [("1", 2300), ("2", 40)]
        raise AssertionError(f"unexpected query: {sql}")


def _warehouse() -> RecordedRedshift:
    return RecordedRedshift(host="h", database="d", user="u", password="p", iam_role_arn="arn", slice_count=4)


def test_rows_per_slice_of_the_distkey_are_read_from_stv_tbl_perm():
    assert _warehouse().rows_per_slice(USER_SESSION_CHANNEL, "userid") == (120, 95, 2410, 101)


def test_reported_skew_is_svv_table_info_skew_rows():
    assert _warehouse().reported_skew(USER_SESSION_CHANNEL) == 25.37


def test_reported_skew_is_absent_for_an_empty_or_even_table():
    class Empty(RecordedRedshift):
        def query(self, sql, params=None):
            return [] if sql == quality_sql.REDSHIFT_TABLE_INFO_SQL else super().query(sql, params)

    class Even(RecordedRedshift):
        def query(self, sql, params=None):
            return [("EVEN", None, Decimal("10"))] if sql == quality_sql.REDSHIFT_TABLE_INFO_SQL else super().query(sql, params)

    kwargs = dict(host="h", database="d", user="u", password="p", iam_role_arn="arn")
    assert Empty(**kwargs).reported_skew(USER_SESSION_CHANNEL) is None
    assert Even(**kwargs).reported_skew(USER_SESSION_CHANNEL) is None


def test_the_skew_check_on_redshift_shows_redshifts_own_figures():
    result = evaluations.distribution_skew(_warehouse(), USER_SESSION_CHANNEL)
    assert not result.passed
    rows = [r.data["rows"] for r in result.metadata["rows_per_slice"].value.records]
    assert rows == [120, 95, 2410, 101]
    assert result.metadata["skew_rows"].value == round(2410 / 95, 3)
    assert result.metadata["svv_table_info_skew_rows"].value == 25.37
