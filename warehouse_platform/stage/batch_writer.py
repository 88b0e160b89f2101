"""Write a batch of rows into the stage as gzip CSV parts plus a manifest.

Used by the StageIOManager for extracted days (CSV records straight from the source's COPY) and
structured log days (CSV records DuckDB writes), and by anything else that stages rows the
platform will load (Python rows: the load benchmark, tests). Both go through one PartWriter (staged_files/part_writer.py).
"""

import tempfile
from pathlib import Path

from warehouse_platform.stage.storage import Stage
from warehouse_platform.staged_files.manifest import (
    MANIFEST_NAME,
    StagedBatch,
    StagedPart,
    batch_id_of,
)
from warehouse_platform.staged_files.part_writer import (
    DEFAULT_MAX_PART_BYTES,
    PartWriter,
    ValueOutOfRange,
    WrittenPart,
    encode_rows,
)
from warehouse_platform.staged_files.row_batches import CsvRecords, RowBatches


def write_staged_batch(
    stage: Stage,
    prefix: str,
    table: str,
    partition_key: str | None,
    rows: RowBatches | CsvRecords,
    *,
    slice_count: int,
    max_part_bytes: int = DEFAULT_MAX_PART_BYTES,
    batch_id: str | None = None,
    landed_versions: tuple[tuple[str, str], ...] | None = None,
) -> StagedBatch:
    """Parts are published as they close; the manifest is written last, so a batch without one
    is incomplete and never loaded."""
    parts: list[StagedPart] = []

    def publish(part: WrittenPart) -> None:
        key = f"{prefix}/{part.path.name}"
        stage.put_file(part.path, key)
        parts.append(StagedPart(stage.url_for(key), part.row_count, part.content_length, part.sha256, part.widest))

    from_source = isinstance(rows, CsvRecords)
    with tempfile.TemporaryDirectory(prefix="stage-") as scratch:
        writer = PartWriter(
            rows.columns, Path(scratch), slice_count=slice_count, max_part_bytes=max_part_bytes,
            on_part_written=publish, measure_widths_of=rows.text_columns, key_columns=rows.key_columns,
            check_ranges_of=rows.integer_columns,
            # The extract orders by the key (sql/extract.py), so its duplicates are neighbours.
            keys_in_order=from_source, header_in_stream=from_source,
            check_header=rows.check_header if from_source else None,
        )
        try:
            read = None
            if from_source:
                read = rows.copy_to(writer)
            else:
                for chunk in encode_rows(rows.batches):
                    writer.write(chunk)
            written = writer.close()
        except BaseException as error:
            writer.abort()
            if isinstance(error, ValueOutOfRange):
                raise error.in_table(table) from None
            raise
    candidates = written.duplicate_candidates
    batch = StagedBatch(
        table=table,
        partition_key=partition_key,
        columns=tuple(rows.columns),
        parts=tuple(parts),
        duplicate_candidates=None if candidates is None else tuple(candidates),
        batch_id=batch_id,
        added_columns=rows.added_columns,
        read_at=read.read_at if read else None,
        held_load_ids=read.held_load_ids if read else None,
        deleted_keys=read.deleted_keys if read else None,
        landed_versions=landed_versions,
    )
    return publish_manifest(stage, prefix, batch)


def publish_manifest(stage: Stage, prefix: str, batch: StagedBatch) -> StagedBatch:
    """The manifest goes last: it is what makes the parts beside it a batch."""
    manifest_key = f"{prefix}/{MANIFEST_NAME}"
    batch = StagedBatch(**{**vars(batch), "manifest_url": stage.url_for(manifest_key)})
    stage.write_text(manifest_key, batch.to_manifest_json())
    return batch


def remove_superseded(stage: Stage, day_prefix: str, batch_id: str) -> int:
    """Delete what an older batch of the same table and day left: its folder, or parts from the
    time before batch folders. Newer batches stay (a later-requested run staged them). Runs of
    one table and day do not overlap, so no load is reading what is deleted here."""
    stale = [
        o.key
        for o in stage.list_objects(day_prefix + "/")
        if (owner := batch_id_of(o.key[len(day_prefix):])) is None or owner < batch_id
    ]
    stage.delete(stale)
    return len(stale)
