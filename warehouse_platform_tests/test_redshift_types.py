"""Redshift's type limits: bytes not characters, 65,535 at most, no JSON."""

import pyarrow as pa
import pytest

from warehouse_platform.contract.redshift_types import (
    UnsupportedTypeError,
    redshift_type_for_arrow,
    utf8_width,
    varchar_bytes,
)
from warehouse_platform.contract.table_spec import Column, TableSpec
from warehouse_platform.sql import ddl as ddl_builder


def test_width_is_counted_in_utf8_bytes():
    assert utf8_width("session") == 7
    assert utf8_width("네이버") == 9  # 3 bytes a Hangul syllable


@pytest.mark.parametrize(
    ("arrow_type", "max_bytes", "expected"),
    [
        (pa.int32(), None, "integer"), (pa.int64(), None, "bigint"), (pa.float64(), None, "double precision"),
        (pa.bool_(), None, "boolean"), (pa.timestamp("us"), None, "timestamp"),
        (pa.timestamp("us", tz="UTC"), None, "timestamptz"), (pa.date32(), None, "date"),
        (pa.decimal128(12, 2), None, "decimal(12, 2)"),
        (pa.string(), 9, "varchar(16)"), (pa.string(), 32, "varchar(32)"), (pa.string(), 40_000, "varchar(65535)"),
        (pa.string(), None, "varchar(256)"),
        (pa.struct([("a", pa.int32())]), None, "super"), (pa.list_(pa.string()), None, "super"),
    ],
)
def test_arrow_types_map_to_redshift(arrow_type, max_bytes, expected):
    assert redshift_type_for_arrow(arrow_type, max_bytes) == expected


def test_strings_over_65535_bytes_have_no_redshift_type():
    with pytest.raises(UnsupportedTypeError, match="65535"):
        redshift_type_for_arrow(pa.string(), 65_536)


def test_pandas_frames_map_through_arrow():
    import pandas as pd

    frame = pd.DataFrame({"userid": [1, 2], "channel": ["네이버", "Google"], "paid": [True, False]})
    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    widths = {"channel": max(utf8_width(v) for v in frame.channel)}
    assert [redshift_type_for_arrow(f.type, widths.get(f.name)) for f in schema] == ["bigint", "varchar(16)", "boolean"]


def test_json_columns_are_refused_with_the_alternative_named():
    spec = TableSpec(schema="raw_data", name="events", columns=(Column("id", "int"), Column("payload", "json")), primary_key=("id",))
    with pytest.raises(UnsupportedTypeError, match=r"raw_data\.events\.payload: type 'json': declare super"):
        ddl_builder.create_table_sql(spec, "redshift")


def test_super_is_jsonb_locally():
    spec = TableSpec(schema="raw_data", name="events", columns=(Column("id", "int"), Column("payload", "super")), primary_key=("id",))
    assert '"payload" super' in ddl_builder.create_table_sql(spec, "redshift")
    assert '"payload" jsonb' in ddl_builder.create_table_sql(spec, "postgres")


def test_declared_varchar_lengths():
    assert varchar_bytes("varchar(32)") == 32 and varchar_bytes("VARCHAR(MAX)") == 65_535
    assert varchar_bytes("int") is None
    spec = TableSpec(schema="s", name="t", columns=(Column("a", "varchar(70000)"),), primary_key=("a",))
    with pytest.raises(UnsupportedTypeError, match="a varchar holds 1 to 65,535 bytes on Redshift"):
        ddl_builder.create_table_sql(spec, "redshift")
