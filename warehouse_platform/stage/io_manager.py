"""StageIOManager: a stage asset's output becomes a batch of gzip CSV parts plus a manifest.

Every run stages under its own batch folder, named so that batches sort by when their runs were
requested (staged_files/manifest.batch_id_for):
    raw_data/<table>/day=<YYYY-MM-DD>/batch=<id>/part-00000.csv.gz ... manifest.json   (daily)
    raw_data/<table>/batch=<id>/part-00000.csv.gz ... manifest.json                    (unpartitioned)
The load step of a run loads exactly the batch its own run staged; a run that staged nothing
(a load re-run on its own) loads the newest complete batch. Older batches of the day are
removed once a newer one is complete.
"""

import time
import uuid
from datetime import datetime, timezone

import dagster as dg

from warehouse_platform.stage.batch_writer import remove_superseded, write_staged_batch
from warehouse_platform.stage.landed_files import LandedFiles, write_landed_batch
from warehouse_platform.stage.log_structuring import (
    StructuringSummary,
    structure_landed_logs,
)
from warehouse_platform.stage.storage import Stage
from warehouse_platform.staged_files.manifest import (
    MANIFEST_NAME,
    StagedBatch,
    batch_folder,
    batch_id_for,
    batch_id_of,
    day_folder,
    table_folder,
)
from warehouse_platform.staged_files.part_writer import DEFAULT_MAX_PART_BYTES
from warehouse_platform.staged_files.row_batches import CsvRecords, RowBatches

# Input metadata naming the stage folder a downstream asset reads (the table's, table_folder).
STAGE_FOLDER = "stage_folder"


def _run_batch_id(context: dg.OutputContext) -> str:
    try:
        run_id = context.run_id
        record = context.step_context.instance.get_run_record_by_id(run_id)
        requested_at = record.create_timestamp if record else datetime.now(timezone.utc)
    except dg.DagsterInvariantViolationError:  # an OutputContext built by hand, outside a run
        run_id, requested_at = uuid.uuid4().hex, datetime.now(timezone.utc)
    if requested_at.tzinfo is None:
        requested_at = requested_at.replace(tzinfo=timezone.utc)
    return batch_id_for(requested_at, run_id)


def structuring_metadata(summary: StructuringSummary) -> dict:
    return {
        "lines_read": summary.lines_read,
        "rejected_lines": summary.rejected,
        "reject_share": round(summary.reject_share, 6),
        "rejects": dg.MetadataValue.url(summary.rejects_url),
        "first_rejects": dg.MetadataValue.json(summary.first_rejects),
    }


class StageIOManager(dg.ConfigurableIOManager):
    stage: dg.ResourceDependency[Stage]
    # Part count is a multiple of this; match the Redshift cluster's slice count.
    slice_count: int = 4
    max_part_bytes: int = DEFAULT_MAX_PART_BYTES

    def handle_output(self, context: dg.OutputContext, obj: CsvRecords | RowBatches | LandedFiles) -> None:
        """Written where the table the rows carry (their TableSpec) is staged."""
        spec = obj.spec
        if spec is None:
            raise TypeError(f"{context.asset_key.to_user_string()}: rows handed to the stage carry their table's spec")
        partition_key = context.asset_partition_key if context.has_asset_partitions else None
        started = time.monotonic()
        batch_id = _run_batch_id(context)
        day = day_folder(table_folder(spec), partition_key)
        prefix = batch_folder(day, batch_id)
        extra: dict = {}
        if isinstance(obj, LandedFiles) and spec.structuring is not None:
            batch, summary = structure_landed_logs(
                self.stage, prefix, partition_key, obj, slice_count=self.slice_count,
                max_part_bytes=self.max_part_bytes, batch_id=batch_id,
            )
            extra = structuring_metadata(summary)
        elif isinstance(obj, LandedFiles):
            batch = write_landed_batch(self.stage, prefix, partition_key, obj, batch_id=batch_id)
        else:
            batch = write_staged_batch(
                self.stage, prefix, spec.qualified_name, partition_key, obj,
                slice_count=self.slice_count, max_part_bytes=self.max_part_bytes, batch_id=batch_id,
            )
        removed = remove_superseded(self.stage, day, batch_id)
        context.add_output_metadata(
            {
                "dagster/row_count": batch.row_count,
                "files": len(batch.parts),
                "compressed_bytes": batch.content_length,
                "manifest": dg.MetadataValue.url(batch.manifest_url),
                "batch_id": batch_id,
                "superseded_files_removed": removed,
                "duplicate_key_candidates": "unknown" if batch.duplicate_candidates is None else len(batch.duplicate_candidates),
                "seconds": round(time.monotonic() - started, 3),
                **extra,
            }
        )

    def load_input(self, context: dg.InputContext) -> StagedBatch:
        """The batch staged in the folder the input names (metadata STAGE_FOLDER)."""
        partition_key = context.asset_partition_key if context.has_asset_partitions else None
        try:
            run_id = context.step_context.run_id
        except dg.DagsterInvariantViolationError:  # an InputContext built by hand, outside a run
            run_id = None
        return read_staged_batch(self.stage, context.definition_metadata[STAGE_FOLDER], partition_key, run_id=run_id)


def read_staged_batch(stage: Stage, folder: str, partition_key: str | None, run_id: str | None = None) -> StagedBatch:
    """The batch `run_id` staged in a table's stage folder (table_folder) for the day, if it
    staged one; otherwise the newest complete batch."""
    day = day_folder(folder, partition_key)
    batches = sorted(
        {batch_id_of(o.key[len(day):]) for o in stage.list_objects(day + "/") if o.key.endswith("/" + MANIFEST_NAME)} - {None}
    )
    own = [b for b in batches if run_id and b.endswith("-" + run_id)]
    chosen = own[-1] if own else (batches[-1] if batches else None)
    if chosen is None:
        raise FileNotFoundError(
            f"no staged batch for {folder} {partition_key or ''}: nothing under "
            f"{stage.url_for(day + '/')}; materialize the stage asset first"
        )
    manifest_key = f"{batch_folder(day, chosen)}/{MANIFEST_NAME}"
    return StagedBatch.from_manifest_json(stage.read_text(manifest_key), stage.url_for(manifest_key))
