"""Where the source and raw_data disagree, key by key: the rule behind the source_parity check,
over figures the SQL computed on each side (sql/parity.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Key = tuple[str, ...]
# Per bucket of keys: (rows, sum of the rows' hashes).
BucketFigures = Mapping[str, tuple[int, object]]
# Per key: (MD5 of the whole row, the row's cursor as text or None).
KeyedRows = Mapping[Key, tuple[str, str | None]]


def differing_buckets(source: BucketFigures, raw: BucketFigures) -> list[str]:
    """The buckets whose rows differ (a bucket on one side only differs too)."""
    return sorted(b for b in set(source) | set(raw) if source.get(b) != raw.get(b))


@dataclass(frozen=True)
class ParityDiff:
    missing: list[Key] = field(default_factory=list)  # in the source, not in raw_data
    extra: list[Key] = field(default_factory=list)  # in raw_data, no longer in the source
    changed: list[Key] = field(default_factory=list)  # in both, with other values
    # Changed keys whose cursor is the same on both sides: the application changed the row
    # without moving its cursor, so no incremental read can see the change.
    unbumped: list[Key] = field(default_factory=list)

    @property
    def keys(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.changed)


def compare_rows(source: KeyedRows, raw: KeyedRows) -> ParityDiff:
    missing = sorted(set(source) - set(raw))
    extra = sorted(set(raw) - set(source))
    changed = sorted(k for k in set(source) & set(raw) if source[k][0] != raw[k][0])
    unbumped = [k for k in changed if source[k][1] is not None and source[k][1] == raw[k][1]]
    return ParityDiff(missing, extra, changed, unbumped)
