"""The column types a catalog may declare, and how each maps to both warehouse dialects: one
closed grammar, so nothing a catalog says reaches DDL as text (a declared type is parsed into a
ColumnType and its DDL is written from the parsed parts, never from the string).

Also the other direction: a source (Postgres) column's type as the warehouse type that holds it
exactly (what `catalog scaffold` writes and what the drift comparison judges by).

| declared | Postgres (local) | Redshift |
|---|---|---|
| smallint, int, bigint | same | same |
| numeric(p,s) / decimal(p,s), p <= 38 | numeric(p,s) | numeric(p,s) |
| real, double precision | same | same |
| boolean | same | same |
| char(n), varchar(n) (bytes) | same | same |
| date, time, timestamp, timestamptz | same | same |
| uuid | uuid | char(36) |
| super (JSON, arrays, composites) | jsonb | SUPER |
| varbyte(n) (bytea) | bytea | VARBYTE(n) |
| inet, cidr | same | varchar(43) |
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Redshift's limits (the local stand-ins are wider; the contract is held to Redshift's).
NUMERIC_MAX_PRECISION = 38
VARCHAR_MAX_BYTES = 65_535
CHAR_MAX_BYTES = 4_096
VARBYTE_MAX_BYTES = 1_024_000
VARBYTE_DEFAULT_BYTES = 65_535
# The longest text form of an inet/cidr value: an IPv6 address (39) with a /128 mask.
INET_TEXT_BYTES = 43

# Kinds of type: a column may change within one (varchar(32) -> varchar(64), int -> bigint) but
# not across them. timestamp and timestamptz are two kinds: the same text means another instant.
KINDS = (
    "integer", "decimal", "float", "boolean", "text", "date", "time", "timestamp", "timestamptz",
    "uuid", "super", "varbyte", "inet",
)

# Plain names (no length or precision), by every spelling accepted, to (canonical name, kind).
_PLAIN = {
    **dict.fromkeys(("smallint", "int2"), ("smallint", "integer")),
    **dict.fromkeys(("int", "integer", "int4"), ("int", "integer")),
    **dict.fromkeys(("bigint", "int8"), ("bigint", "integer")),
    **dict.fromkeys(("real", "float4"), ("real", "float")),
    **dict.fromkeys(("double precision", "float8", "float"), ("double precision", "float")),
    **dict.fromkeys(("boolean", "bool"), ("boolean", "boolean")),
    "date": ("date", "date"),
    **dict.fromkeys(("time", "time without time zone"), ("time", "time")),
    **dict.fromkeys(("timestamp", "timestamp without time zone"), ("timestamp", "timestamp")),
    **dict.fromkeys(("timestamptz", "timestamp with time zone"), ("timestamptz", "timestamptz")),
    "uuid": ("uuid", "uuid"),
    "super": ("super", "super"),
    **dict.fromkeys(("varbyte", "bytea", "varbinary", "binary varying"), ("varbyte", "varbyte")),
    "inet": ("inet", "inet"),
    "cidr": ("cidr", "inet"),
}
_SIZED = {
    **dict.fromkeys(("varchar", "character varying", "nvarchar"), "varchar"),
    **dict.fromkeys(("char", "character", "nchar", "bpchar"), "char"),
    **dict.fromkeys(("numeric", "decimal"), "numeric"),
    **dict.fromkeys(("varbyte", "varbinary", "binary varying"), "varbyte"),
}
# Names a catalog might write that hold values the platform would change: each refused with what to write.
_INSTEAD = {
    "text": "varchar(n) with n the widest value in UTF-8 bytes (Redshift reads text as varchar(256))",
    "json": "super (JSON, arrays and composite values; jsonb locally)",
    "jsonb": "super (JSON, arrays and composite values; jsonb locally)",
    "numeric": "numeric(p,s) (Redshift's bare numeric is numeric(18,0) and would round the values)",
    "decimal": "decimal(p,s) (Redshift's bare decimal is decimal(18,0) and would round the values)",
    "varchar": "varchar(n) (Redshift's bare varchar is varchar(256))",
    "char": "char(n) (a bare char holds one byte)",
    "timetz": "time (Redshift's timetz loses the zone rules; keep the UTC instant in a timestamptz instead)",
    "serial": "int (the source fills it; the warehouse only holds the value)",
    "bigserial": "bigint (the source fills it; the warehouse only holds the value)",
    "money": "numeric(p,2)",
    "xml": "varchar(n)",
    "hstore": "super",
}
_SIZED_FORM = re.compile(r"^([a-z][a-z ]*?)\s*\(\s*([0-9]+|max)\s*(?:,\s*([0-9]+)\s*)?\)$")


@dataclass(frozen=True)
class ColumnType:
    """A parsed declared type: its canonical name, kind, and size (length in bytes for text and
    bytes; precision and scale for numeric)."""

    name: str
    kind: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None

    @property
    def declared(self) -> str:
        """The canonical spelling (what the catalog should say; stable for manifests and records)."""
        if self.name == "numeric":
            return f"numeric({self.precision},{self.scale})"
        if self.length is not None:
            return f"{self.name}({self.length})"
        return self.name

    @property
    def postgres(self) -> str:
        """The local warehouse's type: the same values, exactly."""
        return {"super": "jsonb", "varbyte": "bytea"}.get(self.name, self.declared)

    @property
    def redshift(self) -> str:
        if self.name == "uuid":
            return "char(36)"  # Redshift has no uuid; its text form is 36 ASCII bytes
        if self.kind == "inet":
            return f"varchar({INET_TEXT_BYTES})"
        if self.name == "super":
            return "super"
        if self.name == "varbyte":
            return f"varbyte({self.length or VARBYTE_DEFAULT_BYTES})"
        return self.declared

    @property
    def text_bytes(self) -> int | None:
        """The UTF-8 bytes a text value may take (varchar/char), None for other kinds."""
        return self.length if self.kind == "text" else None


def _refuse(text: str, why: str) -> ValueError:
    return ValueError(f"type {text!r}: {why}")


def parse_type(text: str) -> ColumnType:
    """A declared column type, or ValueError saying why not and what to write instead."""
    if not isinstance(text, str):
        raise _refuse(str(text), "a type is text such as int, varchar(32), numeric(12,2), timestamptz")
    normal = " ".join(text.strip().lower().split())
    if normal in _PLAIN:
        name, kind = _PLAIN[normal]
        return ColumnType(name, kind)
    if normal.endswith("[]"):
        raise _refuse(text, "an array is declared super (its value is staged as a JSON array)")
    if normal in _INSTEAD:
        raise _refuse(text, f"declare {_INSTEAD[normal]}")
    if re.fullmatch(r"[a-z ]+\(\s*[0-9]+\s*", normal):
        # YAML's flow mapping {name: x, type: numeric(12,2)} ends the value at the comma.
        raise _refuse(
            text,
            "its parenthesis is not closed. Inside { } YAML ends a value at a comma, so numeric(12,2) there "
            "must be quoted: type: \"numeric(12,2)\" (or write the column as a block mapping, one field a line)",
        )
    match = _SIZED_FORM.match(normal)
    if not match or match[1] not in _SIZED:
        raise _refuse(text, f"not a type the platform knows; the types are {', '.join(sorted(set(n for n, _ in _PLAIN.values())))}, "
                      "varchar(n), char(n), numeric(p,s), varbyte(n) (see docs/catalog.md, Types)")
    name, size, scale = _SIZED[match[1]], match[2], match[3]
    if name == "numeric":
        return _numeric(text, size, scale)
    if scale is not None:
        raise _refuse(text, f"{name} takes one length")
    if name == "varchar":
        length = VARCHAR_MAX_BYTES if size == "max" else int(size)
        if not 1 <= length <= VARCHAR_MAX_BYTES:
            raise _refuse(text, f"a varchar holds 1 to {VARCHAR_MAX_BYTES:,} bytes on Redshift")
        return ColumnType("varchar", "text", length=length)
    if name == "char":
        length = CHAR_MAX_BYTES if size == "max" else int(size)
        if not 1 <= length <= CHAR_MAX_BYTES:
            raise _refuse(text, f"a char holds 1 to {CHAR_MAX_BYTES:,} bytes on Redshift")
        return ColumnType("char", "text", length=length)
    length = VARBYTE_MAX_BYTES if size == "max" else int(size)
    if not 1 <= length <= VARBYTE_MAX_BYTES:
        raise _refuse(text, f"a varbyte holds 1 to {VARBYTE_MAX_BYTES:,} bytes on Redshift")
    return ColumnType("varbyte", "varbyte", length=length)


def _numeric(text: str, size: str, scale: str | None) -> ColumnType:
    if size == "max":
        raise _refuse(text, "numeric takes a precision and a scale: numeric(p,s)")
    precision, places = int(size), int(scale or 0)
    if not 1 <= precision <= NUMERIC_MAX_PRECISION:
        raise _refuse(text, f"Redshift's numeric holds at most {NUMERIC_MAX_PRECISION} digits")
    if places > precision:
        raise _refuse(text, "the scale is at most the precision")
    return ColumnType("numeric", "decimal", precision=precision, scale=places)


def type_kind(text: str) -> str:
    """The kind of a declared type, or of a warehouse-reported type name (information_schema's
    `timestamp with time zone`, `character varying`); an unknown name is its own kind."""
    normal = " ".join(text.strip().lower().split())
    try:
        return parse_type(normal).kind
    except ValueError:
        base = normal.split("(")[0].strip()
        if base in _SIZED:
            return {"varchar": "text", "char": "text", "numeric": "decimal", "varbyte": "varbyte"}[_SIZED[base]]
        return {"text": "text", "json": "super", "jsonb": "super"}.get(base, base)


@dataclass(frozen=True)
class SourceType:
    """A source column's type as Postgres' catalog reports it."""

    data_type: str  # information_schema.columns.data_type: "integer", "USER-DEFINED", "ARRAY" ...
    udt_name: str = ""  # the underlying type: "int4", "_text" (an array of text), an enum's name
    char_length: int | None = None  # varchar(n)/char(n): n characters
    precision: int | None = None  # numeric(p,s)
    scale: int | None = None
    # For USER-DEFINED types: 'e' an enum, 'c' a composite, 'b' a base type (pg_type.typtype).
    typtype: str | None = None


def warehouse_type_for_source(source: SourceType, widest_bytes: int | None = None) -> tuple[str, str | None]:
    """The declared type that holds a source column's values exactly, and a note for the reviewer
    (None when the mapping is exact with nothing to decide). Text widths are in bytes: Postgres
    counts characters, Redshift bytes, and a UTF-8 character takes up to 4. `widest_bytes`: the
    widest value the source holds now, for a text column of unbounded width."""
    data_type = source.data_type.strip().lower()
    udt = source.udt_name.strip().lower()
    if data_type == "array" or udt.startswith("_"):
        return "super", "an array: staged as a JSON array"
    if data_type in ("json", "jsonb"):
        return "super", None
    if data_type == "user-defined":
        if source.typtype == "e":
            return "varchar(256)", f"the enum {source.udt_name}: its labels as text (widen if a label is longer)"
        if source.typtype == "c":
            return "super", f"the composite type {source.udt_name}: staged as a JSON object"
        return "varchar(65535)", f"the type {source.udt_name}: its text form (check it is what analysts need)"
    if data_type in ("character varying", "character", "varchar", "char", "bpchar"):
        if source.char_length:
            note = None
            if data_type in ("character", "char", "bpchar"):
                # Redshift's CHAR holds single-byte characters only; Postgres ignores char's padding
                # (its text form drops it), so the value is the same text in a varchar.
                note = "char(n): held as varchar, without the padding Postgres ignores too"
            return f"varchar({min(4 * source.char_length, VARCHAR_MAX_BYTES)})", note
        return _text_width(widest_bytes)
    if data_type in ("text", "tsvector", "xml", "citext"):
        return _text_width(widest_bytes)
    if data_type in ("numeric", "decimal"):
        if source.precision and source.precision <= NUMERIC_MAX_PRECISION:
            return f"numeric({source.precision},{source.scale or 0})", None
        return "numeric(38,10)", "an unconstrained (or wider than 38 digits) numeric: check the precision and scale hold every value"
    if data_type in ("bytea",):
        return "varbyte(65535)", "bytes: hex in the stage"
    if data_type in ("time with time zone",):
        return "time", "timetz has no Redshift type: its local time is kept, the offset dropped"
    if data_type == "money":
        return "numeric(19,2)", None
    try:
        return parse_type(data_type).declared, None
    except ValueError:
        return "varchar(65535)", f"the type {source.data_type}: its text form"


def _text_width(widest_bytes: int | None) -> tuple[str, str | None]:
    if widest_bytes is None:
        return f"varchar({VARCHAR_MAX_BYTES})", "unbounded text: narrow it to the widest value you expect, in bytes"
    size = 16
    while size < widest_bytes:
        size *= 2
    return f"varchar({min(size, VARCHAR_MAX_BYTES)})", f"unbounded text, widest value now {widest_bytes} bytes"
