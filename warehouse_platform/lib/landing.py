"""Files other systems drop under landing/<table>/: what they are for, and which were handed over.

Layout: landing/<table>/day=YYYY-MM-DD/<name>.csv[.gz] for day-partitioned tables and
landing/<table>/<name>.csv[.gz] for the others; a header row naming the table's columns. Only
tables declared `rows_from: landing` take landed files.

Which files are new is decided by a durable record of the object versions (key + ETag) already
handed to a run, kept per table and day in the Dagster instance, not by modification times: a
file copied with its old time (`rsync -a`, `cp -p`, a restored backup) is as new as any other,
and resetting the sensor's cursor reloads nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from warehouse_platform.lib.table_spec import RowsFrom, TableSpec

LANDING_PREFIX = "landing/"
_PARTITIONED = re.compile(r"^landing/(?P<table>[a-z_][a-z0-9_]*)/day=(?P<day>[^/]+)/(?P<name>[^/]+\.csv(?:\.gz)?)$")
_UNPARTITIONED = re.compile(r"^landing/(?P<table>[a-z_][a-z0-9_]*)/(?P<name>[^/]+\.csv(?:\.gz)?)$")
_EXPECTED = "landing/<table>/[day=YYYY-MM-DD/]<name>.csv[.gz]"


@dataclass(frozen=True)
class LandedFile:
    key: str
    etag: str
    table: str
    day: str | None


def classify(key: str, etag: str, tables: Mapping[str, TableSpec]) -> LandedFile | str:
    """The landed file, or why it cannot be loaded."""
    if match := _PARTITIONED.match(key):
        table, day = match["table"], match["day"]
        try:
            date.fromisoformat(day)
        except ValueError:
            return f"{key}: {day!r} is not a day (want day=YYYY-MM-DD)"
    elif match := _UNPARTITIONED.match(key):
        table, day = match["table"], None
    else:
        return f"{key}: not a landing file (expected {_EXPECTED})"
    spec = tables.get(table)
    if spec is None:
        return f"{key}: unknown table {table!r}"
    if spec.rows_from != RowsFrom.LANDING:
        return (
            f"{key}: {spec.qualified_name} is fed by extraction from the application database, not by "
            "landed files; the file is not loaded (a day is never fed by both)"
        )
    if spec.partitioned and day is None:
        return f"{key}: {table} is loaded by day; put the file under landing/{table}/day=YYYY-MM-DD/"
    if not spec.partitioned and day is not None:
        return f"{key}: {table} is not partitioned by day; drop its files directly under landing/{table}/"
    return LandedFile(key, etag, table, day)


def mismatched_landed_keys(spec: TableSpec, keys: Iterable[str], partition_key: str | None) -> list[str]:
    """Why each key may not be staged into `spec` at `partition_key` (wrong table, wrong day)."""
    problems = []
    for key in keys:
        landed = classify(key, "", {spec.name: spec})
        if isinstance(landed, str):
            problems.append(landed)
        elif landed.day != partition_key:
            problems.append(f"{key}: the file is for day {landed.day}, the run for {partition_key}")
    return problems


def record_key(table: str, day: str | None) -> str:
    """Where the instance keeps the object versions of a table and day handed to runs."""
    return f"warehouse_platform/landing_handed/{table}/{day or 'all'}"


def decode_handed(text: str | None) -> dict[str, str]:
    return json.loads(text) if text else {}


def encode_handed(handed: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(handed.items())), separators=(",", ":"))


def unhanded(files: Iterable[LandedFile], handed: Mapping[str, str]) -> list[LandedFile]:
    """Files whose current version (key and ETag) no run has taken yet."""
    return [f for f in files if handed.get(f.key) != f.etag]


def run_key(table: str, day: str | None, files: Iterable[LandedFile]) -> str:
    """Deterministic per set of file versions: a repeated tick asks for the same run, which
    Dagster then does not launch twice; a file rewritten in place (new ETag) asks for a new one."""
    digest = hashlib.sha256("\n".join(f"{f.key}@{f.etag}" for f in sorted(files, key=lambda f: f.key)).encode())
    return f"landing:{table}:{day or 'all'}:{digest.hexdigest()[:16]}"
