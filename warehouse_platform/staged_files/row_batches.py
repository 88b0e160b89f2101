"""Rows on their way from the source to the stage: as Python row batches, or as CSV records a
database writes itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from warehouse_platform.contract.table_spec import TableSpec


class BytesSink(Protocol):
    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True)
class RowBatches:
    """Python rows handed to the stage: column names and an iterable of row batches (lazy, so the
    stage writes parts while they are still being produced)."""

    columns: tuple[str, ...]
    batches: Iterable[Sequence[Sequence]]
    # Text columns whose widest value (in UTF-8 bytes) the stage records for type checks.
    text_columns: tuple[str, ...] = ()
    # The logical key; the stage gathers evidence that it is unique within the batch.
    key_columns: tuple[str, ...] = ()
    # (name, declared type) of integer columns whose values the stage checks against the type's range.
    integer_columns: tuple[tuple[str, str], ...] = ()
    # The undeclared columns the files carry, added by the platform (on_new_column: add) earlier or
    # by this extract: (name, warehouse type).
    added_columns: tuple[tuple[str, str], ...] = ()
    # The table the rows are for (where the stage IO manager writes them); the other fields are
    # the spec's unless a caller stages rows by hand.
    spec: TableSpec | None = None


@dataclass(frozen=True)
class CsvRecords:
    """What an extract hands to the stage: `copy_to(sink)` writes the rows, in key order, as CSV
    records with a header line (Postgres `COPY (...) TO STDOUT WITH (FORMAT csv, HEADER)`) into
    the stage's writer; `check_header` gets the header's column names and says why they are wrong,
    or None. Nothing runs until the stage calls copy_to."""

    columns: tuple[str, ...]
    copy_to: Callable[[BytesSink], SourceRead | None]
    text_columns: tuple[str, ...] = ()
    key_columns: tuple[str, ...] = ()
    integer_columns: tuple[tuple[str, str], ...] = ()
    added_columns: tuple[tuple[str, str], ...] = ()
    spec: TableSpec | None = None
    check_header: Callable[[list[str]], str | None] | None = None


@dataclass(frozen=True)
class SourceRead:
    """What a CsvRecords.copy_to says about the read it made (None from writers that read no
    source): the manifest keeps it, the ledger records it, and loads compare it."""

    # The source's clock when the read's snapshot was taken (UTC): of two rows of one key, the
    # one read later is the source's newer word on it, whatever its cursor says (a clock-skewed
    # application server moves updated_at back).
    read_at: datetime
    # For a day of a table whose keys move between days: the loads whose rows the day held when
    # the read was made (the extract looked each of their keys up). A row the day holds from any
    # other load arrived after this read, and this batch cannot judge it.
    held_load_ids: tuple[int, ...] | None = None
    # For a whole table compared with the source on this read: the keys raw_data holds that the
    # source no longer does (text, one value per key column); the load applies the table's
    # delete policy to them. None: not compared.
    deleted_keys: tuple[tuple[str, ...], ...] | None = None


@dataclass(frozen=True)
class SnapshotFacts:
    """What an extract learns inside the read's snapshot, before the COPY: more parameters for
    the COPY's query, and facts the manifest keeps (see SourceRead)."""

    params: dict
    held_load_ids: tuple[int, ...] | None = None
    deleted_keys: tuple[tuple[str, ...], ...] | None = None
