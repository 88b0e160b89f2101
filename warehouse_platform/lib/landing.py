"""Files other systems drop under landing/<table>/: which are new, and what they are for.

Layout: landing/<table>/day=YYYY-MM-DD/<name>.csv[.gz] for day-partitioned tables and
landing/<table>/<name>.csv[.gz] for the others; a header row naming the table's columns.

The sensor cursor is the newest LastModified seen plus the keys seen at exactly that time.
S3 (and moto) stamp objects to the second, so "newer than the cursor" alone would lose a file
landing in the same second as the last one seen; remembering that second's keys does not.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

LANDING_PREFIX = "landing/"
_PARTITIONED = re.compile(r"^landing/(?P<table>[a-z_][a-z0-9_]*)/day=(?P<day>\d{4}-\d{2}-\d{2})/(?P<name>[^/]+\.csv(?:\.gz)?)$")
_UNPARTITIONED = re.compile(r"^landing/(?P<table>[a-z_][a-z0-9_]*)/(?P<name>[^/]+\.csv(?:\.gz)?)$")


@dataclass(frozen=True)
class LandedObject:
    key: str
    last_modified: datetime
    etag: str


@dataclass(frozen=True)
class LandedFile:
    key: str
    etag: str
    table: str
    day: str | None


def classify(obj: LandedObject, partitioned_tables: set[str], other_tables: set[str]) -> LandedFile | str:
    """The landed file, or why it cannot be loaded."""
    if match := _PARTITIONED.match(obj.key):
        table, day = match["table"], match["day"]
        try:
            date.fromisoformat(day)
        except ValueError:
            return f"{obj.key}: {day} is not a date"
        if table in partitioned_tables:
            return LandedFile(obj.key, obj.etag, table, day)
        if table in other_tables:
            return f"{obj.key}: {table} is not partitioned by day; drop its files directly under landing/{table}/"
        return f"{obj.key}: unknown table {table!r}"
    if match := _UNPARTITIONED.match(obj.key):
        table = match["table"]
        if table in other_tables:
            return LandedFile(obj.key, obj.etag, table, None)
        if table in partitioned_tables:
            return f"{obj.key}: {table} is loaded by day; put the file under landing/{table}/day=YYYY-MM-DD/"
        return f"{obj.key}: unknown table {table!r}"
    return f"{obj.key}: not a landing file (expected landing/<table>/[day=YYYY-MM-DD/]<name>.csv[.gz])"


@dataclass(frozen=True)
class LandingCursor:
    last_modified: datetime | None = None
    keys_at_last_modified: frozenset[str] = field(default_factory=frozenset)

    def encode(self) -> str:
        return json.dumps(
            {
                "last_modified": self.last_modified.isoformat() if self.last_modified else None,
                "keys": sorted(self.keys_at_last_modified),
            }
        )

    @classmethod
    def decode(cls, text: str | None) -> LandingCursor:
        if not text:
            return cls()
        data = json.loads(text)
        moment = datetime.fromisoformat(data["last_modified"]) if data["last_modified"] else None
        return cls(moment, frozenset(data["keys"]))

    def is_new(self, obj: LandedObject) -> bool:
        if self.last_modified is None:
            return True
        moment = _utc(obj.last_modified)
        return moment > self.last_modified or (moment == self.last_modified and obj.key not in self.keys_at_last_modified)

    def advance(self, seen: Iterable[LandedObject]) -> LandingCursor:
        latest, keys = self.last_modified, set(self.keys_at_last_modified)
        for obj in seen:
            moment = _utc(obj.last_modified)
            if latest is None or moment > latest:
                latest, keys = moment, {obj.key}
            elif moment == latest:
                keys.add(obj.key)
        return LandingCursor(latest, frozenset(keys))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def run_key(table: str, day: str | None, files: Iterable[LandedFile]) -> str:
    """Deterministic per set of file versions: a repeated tick asks for the same run, which
    Dagster then does not launch twice."""
    digest = hashlib.sha256("\n".join(f"{f.key}@{f.etag}" for f in sorted(files, key=lambda f: f.key)).encode())
    return f"landing:{table}:{day or 'all'}:{digest.hexdigest()[:16]}"
