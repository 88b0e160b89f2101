"""What a load is asked to do and what it reports back."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date

from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.rules import row_volume
from warehouse_platform.staged_files.load_error import LoadError
from warehouse_platform.staged_files.manifest import StagedBatch

UNPARTITIONED = "unpartitioned"


@dataclass(frozen=True)
class LoadRequest:
    spec: TableSpec
    batch: StagedBatch
    run_id: str
    # Let this load replace a day (or table) with far fewer rows, or none (rules/row_volume.py).
    allow_shrink: bool = False
    # 63 random bits: unique per load, and small enough for the bigint stored in every row.
    load_id: int = field(default_factory=lambda: secrets.randbits(63))

    def refuse_sharp_shrink(self, rows_held: int, rows_offered: int) -> None:
        """Called under the table lock, inside the load's transaction, before it commits."""
        reason = row_volume.shrink_refusal(
            self.spec.qualified_name, self.batch.partition_key, rows_held, rows_offered, self.allow_shrink
        )
        if reason:
            raise LoadError(self.spec.qualified_name, self.batch.manifest_url, None, None, reason)

    @property
    def partition_key(self) -> str:
        return self.batch.partition_key or UNPARTITIONED

    @property
    def partition_date(self) -> date | None:
        return date.fromisoformat(self.batch.partition_key) if self.batch.partition_key else None

    @property
    def params(self) -> dict:
        return {
            "table_name": self.spec.qualified_name,
            "partition_key": self.partition_key,
            "partition_date": self.partition_date,
            "load_id": self.load_id,
            # When this batch read the source, and its request order: which of two rows of a key
            # is the source's newer word (sql/load.newer_row_sql).
            "read_at": self.batch.read_at,
            "batch_id": self.batch.batch_id,
        }


@dataclass(frozen=True)
class LoadOutcome:
    already_loaded: bool
    rows_staged: int = 0
    rows_loaded: int = 0
    partition_rows: int = 0
    table_rows: int = 0
    duplicate_keys: tuple[tuple, ...] = ()  # a sample: (key..., copies)
    # The COPY this load ran (credentials scrubbed), for run metadata; empty when nothing ran.
    copy_statement: str = ""
    # Offered rows of keys the table already held in a newer version (kept, not replaced).
    rows_superseded: int = 0
    # Rows the extract looked up for keys that left the day, loaded into the days they live in.
    rows_moved: int = 0
    # Keys the source no longer holds, removed or marked under the table's delete policy.
    keys_deleted: int = 0
    # Whether the day's rows are now exactly this batch's files: True after a load; after a
    # no-op, only when the day already held these files (not when it held a newer view).
    day_holds_batch: bool = True
    # Tables declaring key_window_days (sql/key_window.py): the batch's copies held back because a
    # later day of the window holds their key; copies of earlier days the batch's now beat; and
    # held-back copies of earlier days given back to raw_data (the copy that beat them is gone).
    rows_held_back: int = 0
    earlier_copies_held_back: int = 0
    copies_restored: int = 0


@dataclass(frozen=True)
class StagedLoad:
    """What a raw asset hands its IO manager: the table to load (its spec, from the asset's
    definition, never looked up again by name), the staged batch, and what the run allows."""

    spec: TableSpec
    batch: StagedBatch
    allow_shrink: bool = False
