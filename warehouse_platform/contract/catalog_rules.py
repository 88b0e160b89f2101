"""The rules a catalog entry is held to before anything runs, beyond its YAML schema.

Nothing a catalog says reaches SQL as text: names are lower-case plain identifiers (quoted
anyway), types come from the closed grammar of redshift_types.validate_type, a `default` is a
literal of the column's type or one of DEFAULT_EXPRESSIONS (rendered per dialect by sql/ddl.py),
and a `dedupe_order` term is a declared column with a direction. Each rule raises or returns its
reason; the catalog component reports it as an error of the entry, at the entry's YAML line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from warehouse_platform.contract.identifiers import identifier_problem
from warehouse_platform.contract.log_formats import max_line_bytes_problem
from warehouse_platform.contract.redshift_types import (
    check_redshift_type,
    encoding_problem,
    integer_range,
    utf8_width,
    validate_type,
    varchar_bytes,
)
from warehouse_platform.contract.table_spec import RESERVED_COLUMN_NAMES, TableSpec

# The expressions a default may be besides a literal: the load's time, in UTC (sql/ddl.py renders
# each for its dialect), by the names people write in either dialect.
DEFAULT_EXPRESSIONS = {
    "current_timestamp": "now", "getdate()": "now", "sysdate": "now", "now()": "now",
    "current_date": "today",
}
_NUMERIC = re.compile(r"^(?:numeric|decimal)(?:\((\d+)(?:,\s*(\d+))?\))?$")
_CHAR = re.compile(r"^(?:char|character|bpchar)(?:\((\d+)\))?$")


@dataclass(frozen=True)
class ColumnDefault:
    """A parsed `default`: `expression` is "now" or "today" (see DEFAULT_EXPRESSIONS), or None and
    `literal` is the value, in canonical text, to be written as a quoted literal."""

    literal: str | None = None
    expression: str | None = None
    # Numbers and booleans are written bare (their canonical text is digits, a sign and a point,
    # or true/false); everything else as a quoted literal.
    bare: bool = False


def _family(sql_type: str) -> str:
    normal = validate_type(sql_type)
    if normal.endswith("]"):
        return "array"
    if integer_range(normal) is not None:
        return "integer"
    if _NUMERIC.match(normal):
        return "numeric"
    if normal in ("real", "float4", "double precision", "float8", "float"):
        return "float"
    if normal in ("boolean", "bool"):
        return "boolean"
    if normal == "text" or varchar_bytes(normal) is not None or _CHAR.match(normal):
        return "text"
    if normal == "date":
        return "date"
    if normal.startswith("timestamp"):
        return "timestamp"
    if normal.startswith("time"):
        return "time"
    return normal


def parse_default(value: object, sql_type: str) -> ColumnDefault:
    """`value` (as YAML gives it) as a default of a column of `sql_type`, or ValueError saying why
    not. A literal must be a value of the column's type; a text literal is the text itself (no SQL
    quotes: the platform writes them)."""
    family, text = _family(sql_type), value if isinstance(value, str) else json.dumps(value)
    expression = DEFAULT_EXPRESSIONS.get(text.strip().lower())
    if expression is not None:
        if (expression, family) not in (("now", "timestamp"), ("today", "date"), ("today", "timestamp")):
            raise ValueError(f"default {text!r} is for a timestamp or date column, not {sql_type}")
        return ColumnDefault(expression=expression)
    wrong = ValueError(f"default {text!r} is not a literal of type {sql_type} (nor one of {sorted(DEFAULT_EXPRESSIONS)})")
    try:
        if family == "integer":
            low, high = integer_range(validate_type(sql_type))
            if not re.fullmatch(r"-?\d+", text.strip()) or not low <= int(text) <= high:
                raise wrong
            return ColumnDefault(str(int(text)), bare=True)
        if family in ("numeric", "float"):
            number = Decimal(text.strip())
            if not number.is_finite():
                raise wrong
            if family == "numeric" and (m := _NUMERIC.match(validate_type(sql_type))) and m[1]:
                precision, scale = int(m[1]), int(m[2] or 0)
                if number != number.quantize(Decimal(1).scaleb(-scale)) or abs(number) >= Decimal(10) ** (precision - scale):
                    raise wrong
            return ColumnDefault(format(number, "f"), bare=True)
        if family == "boolean":
            if text.strip().lower() not in ("true", "false"):
                raise wrong
            return ColumnDefault(text.strip().lower(), bare=True)
        if family == "text":
            limit = varchar_bytes(validate_type(sql_type))
            if limit is not None and utf8_width(text) > limit:
                raise ValueError(f"default {text!r} is {utf8_width(text)} bytes, wider than {sql_type}")
            if "\x00" in text:
                raise wrong
            return ColumnDefault(text)
        if family == "date":
            return ColumnDefault(date.fromisoformat(text.strip()).isoformat())
        if family == "timestamp":
            return ColumnDefault(datetime.fromisoformat(text.strip()).isoformat(sep=" "))
        if family == "time":
            return ColumnDefault(time.fromisoformat(text.strip()).isoformat())
    except (ValueError, InvalidOperation) as error:
        raise (error if error is wrong or str(error).startswith("default") else wrong) from None
    raise ValueError(f"a {sql_type} column takes no default (a literal of its type cannot be written in both dialects)")


@dataclass(frozen=True)
class OrderTerm:
    column: str
    descending: bool = False
    nulls_first: bool = False  # NULLs last unless the term says otherwise (docs/load-semantics.md)


_ORDER_TERM = re.compile(r"^(\S+)(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?$", re.IGNORECASE)


def parse_order_term(term: str, columns: Sequence[str]) -> OrderTerm:
    """'<declared column> [asc|desc] [nulls first|last]', or ValueError saying why not."""
    match = _ORDER_TERM.match(str(term).strip())
    if not match:
        raise ValueError(f"dedupe_order term {term!r} is not '<column> [asc|desc] [nulls first|last]'")
    if match[1] not in columns:
        raise ValueError(f"dedupe_order term {term!r} names no declared column (declared: {', '.join(columns)})")
    return OrderTerm(match[1], (match[2] or "asc").lower() == "desc", (match[3] or "last").lower() == "first")


def table_problems(spec: TableSpec) -> list[str]:
    """Every reason the entry behind `spec` cannot be loaded, beyond TableSpec's own rules; empty
    when it can. (TableSpec's rules hold any spec; these hold what a user may declare.)"""
    problems = []
    if problem := identifier_problem(spec.name, table=True):
        problems.append(f"table name: {problem}")
    seen: set[str] = set()
    for column in spec.columns:
        where = f"column {column.name!r}"
        if problem := identifier_problem(column.name):
            problems.append(f"{where}: {problem}")
        if column.name in RESERVED_COLUMN_NAMES:
            problems.append(f"{where}: the name is the platform's own (it adds {', '.join(RESERVED_COLUMN_NAMES)}); rename it")
        if column.name in seen:
            problems.append(f"{where} is declared twice")
        seen.add(column.name)
        try:
            validate_type(column.sql_type)
            # A type the grammar knows but Redshift cannot hold (yet) fails here, not at its first load.
            check_redshift_type(spec.qualified_name, column.name, column.sql_type)
        except ValueError as error:
            problems.append(f"{where}: {error}")
            continue
        if column.encoding is not None and (problem := encoding_problem(column.encoding)):
            problems.append(f"{where}: {problem}")
        if column.default is not None:
            try:
                parse_default(column.default, column.sql_type)
            except ValueError as error:
                problems.append(f"{where}: {error}")
    for term in spec.dedupe_order:
        try:
            parse_order_term(term, spec.column_names)
        except ValueError as error:
            problems.append(str(error))
    if spec.structuring is not None and (problem := max_line_bytes_problem(spec.structuring.max_line_bytes)):
        problems.append(problem)
    return problems


def repeated_names(names: Sequence[str]) -> list[tuple[int, str]]:
    """(position, message) of every name already used by an earlier position."""
    first: dict[str, int] = {}
    repeats = []
    for i, name in enumerate(names):
        if name in first:
            repeats.append((i, f"declared twice: the entry tables.{first[name]} already declares {name!r}"))
        first.setdefault(name, i)
    return repeats
