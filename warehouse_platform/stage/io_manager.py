"""StageIOManager: extract outputs become gzip CSV parts plus a manifest in the stage.

Layout under the stage root follows the asset key without its leading "stage":
    raw_data/<table>/day=<YYYY-MM-DD>/part-00000.csv.gz ... manifest.json   (daily partitions)
    raw_data/<table>/part-00000.csv.gz ... manifest.json                    (unpartitioned)
The manifest is written last, so a batch without one is incomplete and never loaded.
"""


import tempfile
import time
from pathlib import Path

import dagster as dg

from warehouse_platform.lib.csv_part_writer import DEFAULT_MAX_PART_BYTES, WrittenPart, write_csv_parts
from warehouse_platform.lib.row_batches import RowBatches
from warehouse_platform.lib.staged_files import StagedBatch, StagedPart
from warehouse_platform.stage.storage import Stage

MANIFEST_NAME = "manifest.json"


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
        prefix = batch_prefix(context.asset_key, partition_key)
        table = ".".join(context.asset_key.path[-2:])
        previous = {o.key for o in self.stage.list_objects(prefix + "/")}
        started = time.monotonic()

        parts: list[StagedPart] = []

        def publish(part: WrittenPart) -> None:
            key = f"{prefix}/{part.path.name}"
            self.stage.put_file(part.path, key)
            parts.append(StagedPart(self.stage.url_for(key), part.row_count, part.content_length, part.sha256, part.widest))

        with tempfile.TemporaryDirectory(prefix="stage-") as scratch:
            write_csv_parts(
                obj.columns,
                obj.batches,
                Path(scratch),
                slice_count=self.slice_count,
                max_part_bytes=self.max_part_bytes,
                on_part_written=publish,
                measure_widths_of=obj.text_columns,
            )
        manifest_key = f"{prefix}/{MANIFEST_NAME}"
        batch = StagedBatch(
            table=table,
            partition_key=partition_key,
            columns=tuple(obj.columns),
            parts=tuple(parts),
            manifest_url=self.stage.url_for(manifest_key),
        )
        self.stage.write_text(manifest_key, batch.to_manifest_json())
        # Parts of an earlier, larger run of this partition would confuse anyone listing the
        # folder; the manifest already excludes them, so removing them is only tidying.
        current = {self.stage.key_for(p.url) for p in parts} | {manifest_key}
        self.stage.delete(sorted(previous - current))

        context.add_output_metadata(
            {
                "dagster/row_count": batch.row_count,
                "files": len(parts),
                "compressed_bytes": batch.content_length,
                "manifest": dg.MetadataValue.url(batch.manifest_url),
                "seconds": round(time.monotonic() - started, 3),
            }
        )

    def load_input(self, context: dg.InputContext) -> StagedBatch:
        partition_key = context.asset_partition_key if context.has_asset_partitions else None
        manifest_key = f"{batch_prefix(context.asset_key, partition_key)}/{MANIFEST_NAME}"
        try:
            text = self.stage.read_text(manifest_key)
        except (FileNotFoundError, Exception) as error:  # S3 raises botocore ClientError
            if isinstance(error, FileNotFoundError) or "NoSuchKey" in str(error) or "404" in str(error):
                raise FileNotFoundError(
                    f"no staged batch for {context.asset_key.to_user_string()} "
                    f"{partition_key or ''}: {self.stage.url_for(manifest_key)} is missing; "
                    "materialize the stage asset first"
                ) from error
            raise
        return StagedBatch.from_manifest_json(text, self.stage.url_for(manifest_key))
