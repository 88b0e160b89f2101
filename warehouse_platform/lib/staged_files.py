"""Staged batches: gzip CSV parts plus a manifest in Redshift's manifest format.

The manifest is what Redshift's COPY ... MANIFEST reads (`entries` of `url`, `mandatory` and
`meta.content_length`), with `meta.record_count` as Redshift's own UNLOAD ... MANIFEST VERBOSE
writes it. Our additions sit beside, not inside, what Redshift reads: a `batch` section with
the table, partition and columns, and per-file SHA-256 checksums that the load ledger keys on.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class StagedPart:
    url: str
    row_count: int
    content_length: int
    sha256: str


@dataclass(frozen=True)
class StagedBatch:
    table: str  # "raw_data.session_timestamp"
    partition_key: str | None
    columns: tuple[str, ...]
    parts: tuple[StagedPart, ...]
    manifest_url: str = ""
    extra: dict = field(default_factory=dict)

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
                    "checksums": {p.url: f"sha256:{p.sha256}" for p in self.parts},
                    **self.extra,
                },
            },
            indent=2,
        )

    @classmethod
    def from_manifest_json(cls, text: str, manifest_url: str) -> StagedBatch:
        data = json.loads(text)
        batch = data["batch"]
        checksums = batch["checksums"]
        parts = tuple(
            StagedPart(
                url=e["url"],
                row_count=int(e["meta"]["record_count"]),
                content_length=int(e["meta"]["content_length"]),
                sha256=checksums[e["url"]].removeprefix("sha256:"),
            )
            for e in data["entries"]
        )
        extra = {k: v for k, v in batch.items() if k not in ("table", "partition_key", "columns", "record_count", "checksums")}
        return cls(
            table=batch["table"],
            partition_key=batch["partition_key"],
            columns=tuple(batch["columns"]),
            parts=parts,
            manifest_url=manifest_url,
            extra=extra,
        )

    def describe(self) -> dict:
        return asdict(self)
