"""The formats landed log lines come in, and what a table structured from them may declare:
which file names each format accepts, which fields a line has, which column types a value can
be structured into. Part of the contract (table_spec.py validates a declaration with it); the
SQL that reads the lines is logs/structuring_sql.py."""

from __future__ import annotations

import re
from enum import Enum

from warehouse_platform.contract.redshift_types import varchar_bytes


class LogFormat(str, Enum):
    """Formats of landed log lines the structuring step (logs/structuring_sql.py) reads."""

    JSON_LINES = "json_lines"  # one JSON object a line (application events)
    COMBINED_LOG = "combined_log"  # Apache/nginx combined log format (web access logs)


# Landed file names each format accepts (plain or gzip'd); CSV for tables without structuring.
LANDED_SUFFIXES = {
    None: (".csv", ".csv.gz"),
    LogFormat.JSON_LINES: (".jsonl", ".jsonl.gz", ".json", ".json.gz"),
    LogFormat.COMBINED_LOG: (".log", ".log.gz"),
}

# A landed line longer than a table's structuring.max_line_bytes is a reject (logs/landed_lines.py),
# by default longer than 1 MiB; a table may declare from 1 KiB to 4 MiB (DuckDB structures a 4 MiB
# line within its memory limit; the reader holds at most one such line).
DEFAULT_MAX_LINE_BYTES = 1 << 20
MAX_LINE_BYTES_BOUNDS = (1 << 10, 4 << 20)


def max_line_bytes_problem(value: int) -> str | None:
    low, high = MAX_LINE_BYTES_BOUNDS
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"structuring.max_line_bytes is {value!r}: a whole number of bytes from {low:,} to {high:,}"
    return None


# Fields every format has: where the line came from. line_id is the access log's key: the MD5 of
# the raw line plus which occurrence of that exact line it is within its file (see docs/logs.md).
PROVENANCE_FIELDS = ("landed_file", "landed_line", "line_id")

# The combined log format (Apache/nginx):
#   127.0.0.1 - frank [10/Oct/2026:13:55:36 +0900] "GET /a.gif HTTP/1.1" 200 2326 "http://ref/" "Mozilla/5.0"
COMBINED_LOG_FIELDS = (
    "client_ip", "ident", "remote_user", "time", "method", "path", "protocol", "status", "bytes", "referrer", "user_agent",
)
COMBINED_LOG_PATTERN = r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+) (\S+)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"$'

FIELDS = {
    LogFormat.JSON_LINES: PROVENANCE_FIELDS,
    LogFormat.COMBINED_LOG: COMBINED_LOG_FIELDS + PROVENANCE_FIELDS,
}

_KINDS = {
    "int": "integer", "integer": "integer", "int4": "integer", "bigint": "bigint", "int8": "bigint",
    "smallint": "smallint", "int2": "smallint", "boolean": "boolean", "bool": "boolean", "date": "date",
    "timestamp": "timestamp", "double precision": "double", "float8": "double", "super": "json",
}


def structured_kind(sql_type: str) -> str:
    """The kind of value a structured column holds (text, integer, timestamp, json, ...)."""
    base = sql_type.strip().lower()
    if varchar_bytes(base) is not None or base.startswith(("char", "character")):
        return "text"
    if base not in _KINDS:
        raise ValueError(f"type {sql_type} cannot be structured from log lines")
    return _KINDS[base]


def column_source_problem(log_format: LogFormat, from_json: str | None, from_field: str | None, sql_type: str) -> str | None:
    """Why a column's declared source (a JSON path or a field) cannot be read from lines of this
    format as its declared type, or None."""
    if (from_json is None) == (from_field is None):
        return "a structured column declares exactly one of from_json (a JSON path) or from_field"
    if from_json is not None:
        if log_format != LogFormat.JSON_LINES:
            return f"from_json reads JSON lines; {log_format.value} lines have fields: {list(FIELDS[log_format])}"
        if not re.fullmatch(r"\$(\.[A-Za-z_][A-Za-z0-9_]*)+", from_json):
            return f"from_json {from_json!r} is not a JSON path like $.properties.page"
    elif from_field not in FIELDS[log_format]:
        return f"from_field {from_field!r} is not a field of {log_format.value} lines: {list(FIELDS[log_format])}"
    try:
        structured_kind(sql_type)
    except ValueError as error:
        return str(error)
    return None
