"""Files other systems drop under landing/<table>/: what they are for, and which were handed over.

Layout: landing/<folder>/day=YYYY-MM-DD/<name> for day-partitioned tables and
landing/<folder>/<name> for the others. The folder is the table's name, or the landing folder
its structuring declares (logs/app_events); the name ends as the table's format says
(TableSpec.landed_suffixes: .csv[.gz] with a header row naming the columns, .jsonl[.gz],
.log[.gz]). Only tables declared `rows_from: landing` take landed files.

Which files are new is decided by a durable record of the object versions (key + ETag: any
change of bytes is a new version) whose rows each day holds, kept per table and day in the
Dagster instance, not by modification times: a file copied with its old time (`rsync -a`,
`cp -p`, a restored backup) is as new as any other, and resetting the sensor's cursor reloads
nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from warehouse_platform.contract.table_spec import RowsFrom, TableSpec

LANDING_PREFIX = "landing/"
# One rule for every table: <its landing folder>/[day=<day>/]<file name>.
_IN_FOLDER = re.compile(r"^(?:day=(?P<day>[^/]+)/)?(?P<name>[^/]+)$")
_EXPECTED = "landing/<table>/[day=YYYY-MM-DD/]<name>.csv[.gz]"


@dataclass(frozen=True)
class LandedFile:
    key: str
    etag: str
    table: str
    day: str | None


def landing_folder(spec: TableSpec, day: str | None = None) -> str:
    """The stage prefix of a table's landed files (of one day), ending in '/'."""
    return f"{LANDING_PREFIX}{spec.landing_folder}/" + (f"day={day}/" if day else "")


def _owner(key: str, tables: Mapping[str, TableSpec]) -> TableSpec | None:
    """The table whose landing folder holds the key (the deepest folder, if folders nest)."""
    owners = [spec for spec in tables.values() if key.startswith(landing_folder(spec))]
    return max(owners, key=lambda spec: len(spec.landing_folder), default=None)


def classify(key: str, etag: str, tables: Mapping[str, TableSpec]) -> LandedFile | str:
    """The landed file, or why it cannot be loaded."""
    spec = _owner(key, tables)
    if spec is None:
        folder = key[len(LANDING_PREFIX):].split("/")[0] if key.startswith(LANDING_PREFIX) else ""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", folder) or "/" not in key[len(LANDING_PREFIX):]:
            return f"{key}: not a landing file (expected {_EXPECTED})"
        return f"{key}: unknown table {folder!r}"
    match = _IN_FOLDER.match(key[len(landing_folder(spec)):])
    if match is None or not match["name"].endswith(spec.landed_suffixes):
        expected = f"{landing_folder(spec)}[day=YYYY-MM-DD/]<name>" + "|".join(spec.landed_suffixes)
        return f"{key}: not a landing file (expected {expected})"
    table, day = spec.name, match["day"]
    if day is not None:
        try:
            date.fromisoformat(day)
        except ValueError:
            return f"{key}: {day!r} is not a day (want day=YYYY-MM-DD)"
    if spec.rows_from != RowsFrom.LANDING:
        return (
            f"{key}: {spec.qualified_name} is fed by extraction from the application database, not by "
            "landed files; the file is not loaded (a day is never fed by both)"
        )
    if spec.partitioned and day is None:
        return f"{key}: {table} is loaded by day; put the file under {landing_folder(spec)}day=YYYY-MM-DD/"
    if not spec.partitioned and day is not None:
        return f"{key}: {table} is not partitioned by day; drop its files directly under {landing_folder(spec)}"
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
    """Where the instance keeps the landed file versions a table's day was loaded from."""
    return f"warehouse_platform/landing_loaded/{table}/{day or 'all'}"


def decode_versions(text: str | None) -> dict[str, str]:
    return json.loads(text) if text else {}


def encode_versions(versions: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(versions.items())), separators=(",", ":"))


def not_loaded(files: Iterable[LandedFile], loaded: Mapping[str, str]) -> list[LandedFile]:
    """Files whose current version (key and ETag) the day's rows do not come from."""
    return [f for f in files if loaded.get(f.key) != f.etag]


def run_key(table: str, day: str | None, files: Iterable[LandedFile], loaded: Mapping[str, str] | None = None) -> str:
    """Deterministic per set of file versions and what the day holds: a repeated tick asks for
    the same run, which Dagster then does not launch twice (nor again after it failed: a fix is a
    new version, or a re-execution); a file rewritten in place (new ETag) asks for a new one, and
    so does a day whose record changed without taking every file (a run over fewer files loaded
    last)."""
    lines = [f"{f.key}@{f.etag}" for f in sorted(files, key=lambda f: f.key)]
    lines += [f"loaded {key}@{etag}" for key, etag in sorted((loaded or {}).items())]
    digest = hashlib.sha256("\n".join(lines).encode())
    return f"landing:{table}:{day or 'all'}:{digest.hexdigest()[:16]}"
