"""Staged batches: gzip CSV parts plus a manifest in Redshift's manifest format.

The manifest is what Redshift's COPY ... MANIFEST reads (`entries` of `url`, `mandatory` and
`meta.content_length`), with `meta.record_count` as Redshift's own UNLOAD ... MANIFEST VERBOSE
writes it. Our additions sit beside, not inside, what Redshift reads: a `batch` section with
the table, partition and columns, and per file its SHA-256 (which the load ledger keys on)
and the widest value of each text column in bytes (so type limits are checked before COPY).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.staged_files.part_writer import WidestValue

MANIFEST_NAME = "manifest.json"
_BATCH_FOLDER = re.compile(r"(?:^|/)batch=(?P<id>[^/]+)/")


# What the ledger records for a batch of no files, in place of a file's checksum.
EMPTY_BATCH_CHECKSUM = "empty-batch"


def batch_id_for(requested_at: datetime, run_id: str) -> str:
    """Names the batch a run stages, ordered by when the run was *requested*: of two runs of one
    table and day, the later request holds the newer view of its source (the landing sensor's
    second tick sees every file the first saw, and more), whichever stages first."""
    return f"{requested_at.astimezone(timezone.utc):%Y%m%dT%H%M%S%fZ}-{run_id}"


def table_folder(spec: TableSpec) -> str:
    """A table's stage folder, e.g. raw_data/session_timestamp (its stage asset's key follows it)."""
    return f"{spec.schema}/{spec.name}"


def day_folder(table_folder: str, partition_key: str | None) -> str:
    """raw_data/<table>/day=<YYYY-MM-DD> for a day, the table's folder for an unpartitioned table."""
    return f"{table_folder}/day={partition_key}" if partition_key is not None else table_folder


def batch_folder(day_prefix: str, batch_id: str) -> str:
    return f"{day_prefix}/batch={batch_id}"


def batch_id_of(key: str) -> str | None:
    """The batch a stage key belongs to; None for keys outside any batch folder."""
    match = _BATCH_FOLDER.search(key)
    return match["id"] if match else None


@dataclass(frozen=True)
class StagedPart:
    url: str
    row_count: int
    content_length: int
    sha256: str
    widest: dict[str, WidestValue] = field(default_factory=dict)
    # The landed file this part carries byte for byte (same lines), so errors can name it.
    source_url: str | None = None

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
    # Keys that may occur more than once in the batch (see staged_files/key_evidence.py): () proves
    # the keys unique, None means nothing is known and the loader checks every row.
    duplicate_candidates: tuple[tuple[str, ...], ...] | None = None
    # Orders batches of one table and day (see batch_id_for); None for batches made by hand.
    batch_id: str | None = None
    # The undeclared columns the files carry, added by the platform (on_new_column: add) earlier or
    # by this extract: name -> warehouse type.
    added_columns: tuple[tuple[str, str], ...] = ()
    # What the extract's read of the source was (row_batches.SourceRead); None for batches that
    # read no source (landed files, batches made by hand).
    read_at: datetime | None = None
    held_load_ids: tuple[int, ...] | None = None
    deleted_keys: tuple[tuple[str, ...], ...] | None = None
    # For batches of landed files: (stage key, version) of each file the batch was made from.
    landed_versions: tuple[tuple[str, str], ...] | None = None

    @property
    def row_count(self) -> int:
        return sum(p.row_count for p in self.parts)

    @property
    def content_length(self) -> int:
        return sum(p.content_length for p in self.parts)

    @property
    def checksums(self) -> list[str]:
        """What the batch holds, whatever its files are called: the ledger recognises a batch
        already loaded by these (each run stages under its own folder, so URLs always differ).
        A batch of no files (a day the source has nothing for) is one marker: the ledger records
        it like a file, so the day's newest batch is known and an older one cannot follow it."""
        return sorted(p.checksum for p in self.parts) or [EMPTY_BATCH_CHECKSUM]

    def source_of(self, url: str) -> str:
        """The file a user gave for a staged part (a landed file), or the part itself."""
        return next((p.source_url for p in self.parts if p.url == url and p.source_url), url)

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
                    "batch_id": self.batch_id,
                    **({"added_columns": dict(self.added_columns)} if self.added_columns else {}),
                    **({"read_at": self.read_at.isoformat()} if self.read_at is not None else {}),
                    **({"held_load_ids": list(self.held_load_ids)} if self.held_load_ids is not None else {}),
                    **({"deleted_keys": [list(k) for k in self.deleted_keys]} if self.deleted_keys is not None else {}),
                    **({"landed_versions": dict(self.landed_versions)} if self.landed_versions is not None else {}),
                    "files": {
                        p.url: {
                            "checksum": p.checksum,
                            "widest": {c: vars(w) for c, w in p.widest.items()},
                            **({"source_url": p.source_url} if p.source_url else {}),
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
                    source_url=file.get("source_url"),
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
            batch_id=batch.get("batch_id"),
            added_columns=tuple(batch.get("added_columns", {}).items()),
            read_at=datetime.fromisoformat(batch["read_at"]) if batch.get("read_at") else None,
            # Integers only: they reach SQL as bound parameters, but a manifest is input.
            held_load_ids=None if batch.get("held_load_ids") is None else tuple(int(i) for i in batch["held_load_ids"]),
            # Text only: the loader binds them as parameters.
            deleted_keys=None if batch.get("deleted_keys") is None
            else tuple(tuple(str(v) for v in k) for k in batch["deleted_keys"]),
            landed_versions=None if batch.get("landed_versions") is None
            else tuple((str(k), str(v)) for k, v in batch["landed_versions"].items()),
        )
