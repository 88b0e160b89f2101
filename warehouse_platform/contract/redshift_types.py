"""Redshift's type limits, applied before COPY instead of discovered by it.

Redshift measures VARCHAR in bytes of UTF-8 (Korean text is 3 bytes a character, so
varchar(32) holds 10 Hangul syllables), caps it at 65,535 bytes, and has no JSON type
(semi-structured values go to SUPER). These helpers map dataframe/Arrow types to Redshift
DDL and find values that would not fit.
"""

from __future__ import annotations

import re

import pyarrow as pa

VARCHAR_MAX_BYTES = 65_535
DEFAULT_VARCHAR_BYTES = 256
_VARCHAR = re.compile(r"^(?:varchar|character varying|nvarchar)\s*\(\s*(\d+|max)\s*\)$", re.IGNORECASE)
_TYPES_REDSHIFT_LACKS = {"json", "jsonb", "xml", "uuid", "bytea", "text[]", "int[]", "hstore"}


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
    base = sql_type.strip().lower()
    if base in _TYPES_REDSHIFT_LACKS:
        hint = " use SUPER (or VARCHAR holding JSON text)" if base.startswith("json") else ""
        raise UnsupportedTypeError(f"{table}.{column}: Redshift has no {sql_type} type;{hint}")
    length = varchar_bytes(sql_type)
    if length is not None and length > VARCHAR_MAX_BYTES:
        raise UnsupportedTypeError(
            f"{table}.{column}: {sql_type} exceeds Redshift's VARCHAR limit of {VARCHAR_MAX_BYTES} bytes"
        )


def postgres_type(sql_type: str) -> str:
    """The local stand-in for a Redshift type (SUPER is JSONB locally).

    SUPER columns are staged like any other: as JSON text in a CSV field. AWS documents COPY
    filling SUPER from text and CSV files ("Copying data from text and CSV" in
    https://docs.aws.amazon.com/redshift/latest/dg/copy_json.html; the formats are listed in
    https://docs.aws.amazon.com/redshift/latest/dg/ingest-super.html): the field holds the value
    serialized as JSON, which must be valid JSON for it to load with its types (objects and
    arrays unquoted inside the JSON, strings double-quoted), with the CSV quoting rules around
    it. Postgres' COPY parses the same field into jsonb."""
    return "jsonb" if sql_type.strip().lower() == "super" else sql_type


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


# The declared types: a closed grammar, so a catalog `type` is one of these or refused, and never
# reaches DDL as text it chose. Extend the map here (one alternative per family).
_DECLARED_TYPE = re.compile(
    r"""^(?:
        (?P<plain>smallint|int2|integer|int4|int|bigint|int8|real|float4|double\s+precision|float8|float
            |boolean|bool|text|date|super|uuid|jsonb|json|bytea|inet|cidr|timestamptz|timetz
            |timestamp(?:\s+with(?:out)?\s+time\s+zone)?|time(?:\s+with(?:out)?\s+time\s+zone)?)
        |(?P<numeric>numeric|decimal)(?:\s*\(\s*(?P<precision>\d+)\s*(?:,\s*(?P<scale>\d+)\s*)?\))?
        |(?P<char>char|character|bpchar)(?:\s*\(\s*(?P<char_length>\d+)\s*\))?
        |(?P<varchar>varchar|character\s+varying|nvarchar)\s*\(\s*(?P<varchar_length>\d+|max)\s*\)
        |(?P<varbyte>varbyte|varbinary)(?:\s*\(\s*(?P<varbyte_length>\d+)\s*\))?
    )(?P<array>(?:\s*\[\s*\])*)$""",
    re.IGNORECASE | re.VERBOSE,
)
NUMERIC_MAX_PRECISION = 38  # Redshift's; Postgres allows more, which Redshift could not hold
CHAR_MAX_BYTES = 4_096
VARBYTE_MAX_BYTES = 1_024_000


def validate_type(text: str) -> str:
    """The declared type, normalised (lower case, single spaces), or InvalidTypeError saying why
    not. Only this grammar is accepted: nothing else a catalog says reaches DDL."""
    match = _DECLARED_TYPE.match(str(text).strip())
    if not match:
        raise InvalidTypeError(
            f"type {text!r} is not one the platform knows: smallint, int, bigint, numeric(p,s), real, double precision, "
            "boolean, char(n), varchar(n), text, date, time, timestamp, timestamptz, uuid, json, jsonb, super, bytea, "
            "varbyte(n), inet, cidr, or an array of one (int[])"
        )
    if match["precision"] is not None:
        precision, scale = int(match["precision"]), int(match["scale"] or 0)
        if not 1 <= precision <= NUMERIC_MAX_PRECISION:
            raise InvalidTypeError(f"type {text!r}: a numeric's precision is 1 to {NUMERIC_MAX_PRECISION} (Redshift's limit)")
        if scale > precision:
            raise InvalidTypeError(f"type {text!r}: a numeric's scale is at most its precision")
    for group, limit in (("char_length", CHAR_MAX_BYTES), ("varchar_length", VARCHAR_MAX_BYTES), ("varbyte_length", VARBYTE_MAX_BYTES)):
        if match[group] is not None and match[group].lower() != "max" and not 1 <= int(match[group]) <= limit:
            raise InvalidTypeError(f"type {text!r}: the length is 1 to {limit:,} bytes (Redshift's limit)")
    return re.sub(r"\s+", " ", str(text).strip().lower()).replace(" (", "(").replace(" [", "[")


# Redshift's column compression encodings (ENCODE), the only words a catalog `encoding` may be.
REDSHIFT_ENCODINGS = (
    "raw", "az64", "bytedict", "delta", "delta32k", "lzo", "mostly8", "mostly16", "mostly32", "runlength",
    "text255", "text32k", "zstd",
)


def encoding_problem(encoding: str) -> str | None:
    if encoding.lower() in REDSHIFT_ENCODINGS:
        return None
    return f"encoding {encoding!r} is not one of Redshift's: {', '.join(REDSHIFT_ENCODINGS)}"
