"""The one rule for text widths: a value must fit its VARCHAR in UTF-8 bytes (Redshift counts
bytes; Korean text is 3 bytes a character), at most 65,535, unless the table declares
`truncate_columns`, in which case the load cuts it to the column instead (Redshift's
TRUNCATECOLUMNS; on Postgres the same cut, at a character boundary, after COPY). The stage
records each file's widest value per column, so this is known before any COPY; the blocking
`redshift_type_limits` check and the loader both ask this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from warehouse_platform.contract.redshift_types import column_byte_limit
from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.staged_files.manifest import StagedBatch
from warehouse_platform.staged_files.part_writer import WidestValue


@dataclass(frozen=True)
class ColumnWidth:
    column: str
    limit: int  # bytes the column holds
    widest: WidestValue | None  # the widest staged value, where the files say
    file_url: str  # the file holding it: the user's own for landed files

    @property
    def overflows(self) -> bool:
        return self.widest is not None and self.widest.bytes > self.limit

    def describe(self) -> str:
        assert self.widest is not None
        return (
            f"{self.column}: widest value {self.widest.bytes} bytes > varchar({self.limit}) at {self.file_url} "
            f"line {self.widest.line}: {self.widest.preview!r}"
        )


def text_widths(spec: TableSpec, batch: StagedBatch) -> list[ColumnWidth]:
    """Per text column, its limit and the widest value the staged files record."""
    widths = []
    for column in spec.text_column_names:
        holders = [p for p in batch.parts if column in p.widest]
        part = max(holders, key=lambda p: p.widest[column].bytes, default=None)
        widths.append(ColumnWidth(
            column, column_byte_limit(spec.column(column).sql_type),
            part.widest[column] if part else None, batch.source_of(part.url) if part else "",
        ))
    return widths


def width_violations(spec: TableSpec, batch: StagedBatch) -> list[ColumnWidth]:
    """What a load must refuse: values wider than their column, unless the table cuts them."""
    return [] if spec.truncate_columns else [w for w in text_widths(spec, batch) if w.overflows]
