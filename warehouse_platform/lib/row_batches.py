"""Rows on their way from the source to the stage, one batch at a time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from warehouse_platform.lib.table_spec import TableSpec


@dataclass(frozen=True)
class RowBatches:
    """What an extract asset hands to the stage IO manager: column names and an iterable of
    row batches. The iterable is lazy (a server-side cursor behind it), so the stage writes
    parts while the source is still being read."""

    columns: tuple[str, ...]
    batches: Iterable[Sequence[Sequence]]
    # Text columns whose widest value (in UTF-8 bytes) the stage records for type checks.
    text_columns: tuple[str, ...] = ()
    # The logical key; the stage gathers evidence that it is unique within the batch.
    key_columns: tuple[str, ...] = ()
    # Columns the source gained that the table takes (on_new_column: add): (name, warehouse type).
    added_columns: tuple[tuple[str, str], ...] = ()
    # The table the rows are for (where the stage IO manager writes them); the other fields are
    # the spec's unless a caller stages rows by hand.
    spec: TableSpec | None = None
