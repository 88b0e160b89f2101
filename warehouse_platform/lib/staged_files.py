"""Staged batches: gzip CSV parts plus a manifest in Redshift's manifest format.

The manifest is what Redshift's COPY ... MANIFEST reads (`entries` of `url`, `mandatory` and
`meta.content_length`), with `meta.record_count` as Redshift's own UNLOAD ... MANIFEST VERBOSE
writes it. Our additions sit beside, not inside, what Redshift reads: a `batch` section with
the table, partition and columns, and per file its SHA-256 (which the load ledger keys on)
and the widest value of each text column in bytes (so type limits are checked before COPY).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from warehouse_platform.lib.csv_part_writer import WidestValue


@dataclass(frozen=True)
class StagedPart:
    url: str
    row_count: int
    content_length: int
    sha256: str
    widest: dict[str, WidestValue] = field(default_factory=dict)

    @property
    def checksum(self) -> str:
        return f"sha256:{self.sha256}"


@dataclass(frozen=True)
class StagedBatch:
    table: str  # "raw_data.session_timestamp"
    partition_key: str | None
    columns: tuple[str, ...]
    parts: tuple[StagedPart, ...]
    manifest_url: str = ""
    # Keys that may occur more than once in the batch (see lib/key_uniqueness.py): () proves
    # the keys unique, None means nothing is known and the loader checks every row.
    duplicate_candidates: tuple[tuple[str, ...], ...] | None = None

    @property
    def row_count(self) -> int:
        return sum(p.row_count for p in self.parts)

    @property
    def content_length(self) -> int:
        return sum(p.content_length for p in self.parts)

    def to_manifest_json(self) -> str:
        return json.dumps(
            {
                "entries": [
                    {
                        "url": p.url,
                        "mandatory": True,
                        "meta": {"content_length": p.content_length, "record_count": p.row_count},
                    }
                    for p in self.parts
                ],
                "batch": {
                    "table": self.table,
                    "partition_key": self.partition_key,
                    "columns": list(self.columns),
                    "record_count": self.row_count,
                    "files": {
                        p.url: {
                            "checksum": p.checksum,
                            "widest": {c: vars(w) for c, w in p.widest.items()},
                        }
                        for p in self.parts
                    },
                    "key_check": None
                    if self.duplicate_candidates is None
                    else {"duplicate_candidates": [list(k) for k in self.duplicate_candidates]},
                },
            },
            indent=2,
            ensure_ascii=False,
        )

    @classmethod
    def from_manifest_json(cls, text: str, manifest_url: str) -> StagedBatch:
        data = json.loads(text)
        batch = data["batch"]
        parts = []
        for entry in data["entries"]:
            file = batch["files"][entry["url"]]
            parts.append(
                StagedPart(
                    url=entry["url"],
                    row_count=int(entry["meta"]["record_count"]),
                    content_length=int(entry["meta"]["content_length"]),
                    sha256=file["checksum"].removeprefix("sha256:"),
                    widest={c: WidestValue(**w) for c, w in file.get("widest", {}).items()},
                )
            )
        key_check = batch.get("key_check")
        return cls(
            table=batch["table"],
            partition_key=batch["partition_key"],
            columns=tuple(batch["columns"]),
            parts=tuple(parts),
            manifest_url=manifest_url,
            duplicate_candidates=None
            if key_check is None
            else tuple(tuple(k) for k in key_check["duplicate_candidates"]),
        )
