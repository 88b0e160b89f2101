"""Redshift's type limits, applied before COPY instead of discovered by it.

Redshift measures VARCHAR in bytes of UTF-8 (Korean text is 3 bytes a character, so
varchar(32) holds 10 Hangul syllables), caps it at 65,535 bytes, and has no JSON type
(semi-structured values go to SUPER). These helpers map dataframe/Arrow types to Redshift
DDL and find values that would not fit.
"""

from __future__ import annotations

import re

import pyarrow as pa

from warehouse_platform.contract.column_types import VARCHAR_MAX_BYTES, parse_type

DEFAULT_VARCHAR_BYTES = 256
_VARCHAR = re.compile(r"^(?:varchar|character varying|nvarchar)\s*\(\s*(\d+|max)\s*\)$", re.IGNORECASE)


class UnsupportedTypeError(ValueError):
    pass


def utf8_width(value: str) -> int:
    return len(value) if value.isascii() else len(value.encode("utf-8"))


# The integer types' ranges (the same in Redshift and Postgres), by every name they go by.
_INTEGER_RANGES = {
    **dict.fromkeys(("smallint", "int2"), (-(2**15), 2**15 - 1)),
    **dict.fromkeys(("int", "integer", "int4"), (-(2**31), 2**31 - 1)),
    **dict.fromkeys(("bigint", "int8"), (-(2**63), 2**63 - 1)),
}


def integer_range(sql_type: str) -> tuple[int, int] | None:
    """The lowest and highest value an integer type holds, None for other types."""
    return _INTEGER_RANGES.get(sql_type.strip().lower())


def varchar_bytes(sql_type: str) -> int | None:
    """Declared byte length of a VARCHAR type, None for other types."""
    match = _VARCHAR.match(sql_type.strip())
    if not match:
        return None
    return VARCHAR_MAX_BYTES if match[1].lower() == "max" else int(match[1])


def check_redshift_type(table: str, column: str, sql_type: str) -> None:
    """Refuse a declared type outside the grammar (contract/column_types.py), naming the column."""
    try:
        parse_type(sql_type)
    except ValueError as error:
        raise UnsupportedTypeError(f"{table}.{column}: {error}") from None


def postgres_type(sql_type: str) -> str:
    """The local stand-in for a declared type (SUPER is JSONB locally, VARBYTE bytea; the map is
    contract/column_types.py).

    SUPER columns are staged like any other: as JSON text in a CSV field. AWS documents COPY
    filling SUPER from text and CSV files ("Copying data from text and CSV" in
    https://docs.aws.amazon.com/redshift/latest/dg/copy_json.html; the formats are listed in
    https://docs.aws.amazon.com/redshift/latest/dg/ingest-super.html): the field holds the value
    serialized as JSON, which must be valid JSON for it to load with its types (objects and
    arrays unquoted inside the JSON, strings double-quoted), with the CSV quoting rules around
    it. Postgres' COPY parses the same field into jsonb."""
    return parse_type(sql_type).postgres


def redshift_type(sql_type: str) -> str:
    return parse_type(sql_type).redshift


def redshift_type_for_arrow(arrow_type: pa.DataType, max_bytes: int | None = None) -> str:
    """DDL type for an Arrow (or pandas, via pa.from_pandas) column.

    Strings get VARCHAR sized to the widest value seen in bytes, rounded up to a power of two
    (room to grow without declaring VARCHAR(MAX) everywhere, which bloats Redshift's query
    memory), capped at 65,535; nested values (structs, lists, maps) get SUPER.
    """
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_int8(arrow_type) or pa.types.is_int16(arrow_type) or pa.types.is_uint8(arrow_type):
        return "smallint"
    if pa.types.is_int32(arrow_type) or pa.types.is_uint16(arrow_type):
        return "integer"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_float16(arrow_type) or pa.types.is_float32(arrow_type):
        return "real"
    if pa.types.is_floating(arrow_type):
        return "double precision"
    if pa.types.is_decimal(arrow_type):
        if arrow_type.precision > 38:
            raise UnsupportedTypeError(f"decimal precision {arrow_type.precision} exceeds Redshift's 38")
        return f"decimal({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_time(arrow_type):
        return "time"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        if max_bytes is None:
            return f"varchar({DEFAULT_VARCHAR_BYTES})"
        if max_bytes > VARCHAR_MAX_BYTES:
            raise UnsupportedTypeError(
                f"a value of {max_bytes} bytes exceeds Redshift's VARCHAR limit of {VARCHAR_MAX_BYTES} bytes"
            )
        size = 1
        while size < max(max_bytes, 1):
            size *= 2
        return f"varchar({min(size, VARCHAR_MAX_BYTES)})"
    if pa.types.is_struct(arrow_type) or pa.types.is_list(arrow_type) or pa.types.is_map(arrow_type):
        return "super"
    raise UnsupportedTypeError(f"no Redshift type for Arrow type {arrow_type}")


def preview(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[:limit] + f"... ({len(value)} characters)"


def column_byte_limit(sql_type: str) -> int:
    """The bytes a value of a text column may take: its varchar(n), at most Redshift's 65,535
    (a text column without a width is held to the most Redshift allows)."""
    return min(varchar_bytes(sql_type) or VARCHAR_MAX_BYTES, VARCHAR_MAX_BYTES)


class InvalidTypeError(ValueError):
    pass


def validate_type(text: str) -> str:
    """The declared type in its canonical spelling, or InvalidTypeError saying why not and what to
    write instead. The grammar is contract/column_types.parse_type, the one place types are
    known: nothing else a catalog says reaches DDL."""
    try:
        return parse_type(text).declared
    except ValueError as error:
        raise InvalidTypeError(str(error)) from None


# Redshift's column compression encodings (ENCODE), the only words a catalog `encoding` may be.
REDSHIFT_ENCODINGS = (
    "raw", "az64", "bytedict", "delta", "delta32k", "lzo", "mostly8", "mostly16", "mostly32", "runlength",
    "text255", "text32k", "zstd",
)


def encoding_problem(encoding: str) -> str | None:
    if encoding.lower() in REDSHIFT_ENCODINGS:
        return None
    return f"encoding {encoding!r} is not one of Redshift's: {', '.join(REDSHIFT_ENCODINGS)}"
