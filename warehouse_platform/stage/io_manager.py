"""StageIOManager: extract outputs become gzip CSV parts plus a manifest in the stage.

Layout under the stage root follows the asset key without its leading "stage":
    raw_data/<table>/day=<YYYY-MM-DD>/part-00000.csv.gz ... manifest.json   (daily partitions)
    raw_data/<table>/part-00000.csv.gz ... manifest.json                    (unpartitioned)
"""

import time

import dagster as dg

from warehouse_platform.lib.csv_part_writer import DEFAULT_MAX_PART_BYTES
from warehouse_platform.lib.row_batches import RowBatches
from warehouse_platform.lib.staged_files import StagedBatch
from warehouse_platform.stage.batch_writer import MANIFEST_NAME, write_staged_batch
from warehouse_platform.stage.storage import Stage


def batch_prefix(asset_key: dg.AssetKey, partition_key: str | None) -> str:
    path = list(asset_key.path)
    if path[0] == "stage":
        path = path[1:]
    if partition_key is not None:
        path.append(f"day={partition_key}")
    return "/".join(path)


class StageIOManager(dg.ConfigurableIOManager):
    stage: dg.ResourceDependency[Stage]
    # Part count is a multiple of this; match the Redshift cluster's slice count.
    slice_count: int = 4
    max_part_bytes: int = DEFAULT_MAX_PART_BYTES

    def handle_output(self, context: dg.OutputContext, obj: RowBatches) -> None:
        partition_key = context.asset_partition_key if context.has_asset_partitions else None
        started = time.monotonic()
        batch = write_staged_batch(
            self.stage,
            batch_prefix(context.asset_key, partition_key),
            ".".join(context.asset_key.path[-2:]),
            partition_key,
            obj,
            slice_count=self.slice_count,
            max_part_bytes=self.max_part_bytes,
        )
        context.add_output_metadata(
            {
                "dagster/row_count": batch.row_count,
                "files": len(batch.parts),
                "compressed_bytes": batch.content_length,
                "manifest": dg.MetadataValue.url(batch.manifest_url),
                "duplicate_key_candidates": "unknown" if batch.duplicate_candidates is None else len(batch.duplicate_candidates),
                "seconds": round(time.monotonic() - started, 3),
            }
        )

    def load_input(self, context: dg.InputContext) -> StagedBatch:
        partition_key = context.asset_partition_key if context.has_asset_partitions else None
        return read_staged_batch(self.stage, context.asset_key, partition_key)


def read_staged_batch(stage: Stage, asset_key: dg.AssetKey, partition_key: str | None) -> StagedBatch:
    manifest_key = f"{batch_prefix(asset_key, partition_key)}/{MANIFEST_NAME}"
    try:
        text = stage.read_text(manifest_key)
    except Exception as error:  # a missing file (folder) or NoSuchKey (S3)
        if isinstance(error, FileNotFoundError) or "NoSuchKey" in str(error) or "404" in str(error):
            raise FileNotFoundError(
                f"no staged batch for {asset_key.to_user_string()} {partition_key or ''}: "
                f"{stage.url_for(manifest_key)} is missing; materialize the stage asset first"
            ) from error
        raise
    return StagedBatch.from_manifest_json(text, stage.url_for(manifest_key))
