"""Build staged batches by hand (as another system, or a corrupted stage, would leave them)."""

import csv
import gzip
import hashlib
from pathlib import Path

from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.stage.storage import LocalFolderStage
from warehouse_platform.staged_files.manifest import StagedBatch, StagedPart
from warehouse_platform.staged_files.part_writer import encode_rows, write_csv_parts


def hand_written_batch(
    stage: LocalFolderStage, spec: TableSpec, day: str | None, name: str, rows: list[list[str]], header=None
) -> StagedBatch:
    """One gzip CSV file written directly, with no width statistics (like a landed file)."""
    folder = f"{spec.schema}/{spec.name}" + (f"/day={day}" if day else "")
    key = f"{folder}/{name}"
    path = Path(stage.root, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header or spec.column_names)
        writer.writerows(rows)
    data = path.read_bytes()
    part = StagedPart(stage.url_for(key), len(rows), len(data), hashlib.sha256(data).hexdigest())
    return StagedBatch(spec.qualified_name, day, spec.column_names, (part,), stage.url_for(f"{folder}/manifest.json"))


def platform_batch(stage: LocalFolderStage, spec: TableSpec, day: str | None, rows, slice_count: int = 2) -> StagedBatch:
    """Rows staged the way the StageIOManager stages them (parts, widths, checksums)."""
    folder = f"{spec.schema}/{spec.name}" + (f"/day={day}" if day else "")
    written = write_csv_parts(
        spec.column_names, encode_rows([rows]), Path(stage.root, folder), slice_count=slice_count,
        measure_widths_of=spec.text_column_names,
    ).parts
    parts = tuple(
        StagedPart(stage.url_for(f"{folder}/{p.path.name}"), p.row_count, p.content_length, p.sha256, p.widest)
        for p in written
    )
    return StagedBatch(spec.qualified_name, day, spec.column_names, parts, stage.url_for(f"{folder}/manifest.json"))
