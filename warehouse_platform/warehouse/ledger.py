"""The load ledger: which files are in a table, written in the same transaction as their rows."""

from __future__ import annotations

from datetime import datetime, timezone

from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.sql import load as sqlb
from warehouse_platform.staged_files.manifest import StagedBatch


def _params(spec: TableSpec, partition_key: str) -> dict:
    return {"table_name": spec.qualified_name, "partition_key": partition_key}


def active_checksums(cur, spec: TableSpec, partition_key: str) -> list[str]:
    cur.execute(sqlb.ledger_active_files_sql(spec.schema), _params(spec, partition_key))
    return sorted(checksum for _, checksum, _, _ in cur.fetchall())


def active_batch(cur, spec: TableSpec, partition_key: str) -> tuple[datetime | None, str | None]:
    """(read_at, batch_id) of the partition's active batch; (None, None) before its first load."""
    cur.execute(sqlb.ledger_active_batch_sql(spec.schema), _params(spec, partition_key))
    row = cur.fetchone()
    return (row[0], row[1]) if row else (None, None)


def is_newer_view(batch: StagedBatch, read_at: datetime | None, batch_id: str | None) -> bool:
    """Whether the partition's active batch (read_at, batch_id) is a newer view of the source
    than `batch`: read later (a run requested earlier may run later, and then it read later);
    for batches that read no source (landed files), requested later (the landing sensor's later
    tick saw every file the earlier one saw, and more)."""
    if batch.read_at is not None and read_at is not None:
        return (read_at, batch_id or "") > (batch.read_at, batch.batch_id or "")
    return batch.batch_id is not None and batch_id is not None and batch.batch_id < batch_id


def is_loaded(cur, spec: TableSpec, batch: StagedBatch, partition_key: str) -> bool:
    """True when loading `batch` must change nothing: the partition already holds exactly its
    files (by checksum: every run stages under its own folder, so names differ), or holds a
    newer view of the source (loading this older one would lose what the newer one added: a
    change, a second landed file)."""
    if active_checksums(cur, spec, partition_key) == batch.checksums:
        return True
    return is_newer_view(batch, *active_batch(cur, spec, partition_key))


def record(
    cur, spec: TableSpec, batch: StagedBatch, partition_key: str, load_id: int, run_id: str, rows_loaded: int
) -> None:
    """The batch's files become the partition's content; earlier files stay as inactive history."""
    params = _params(spec, partition_key)
    cur.execute(sqlb.ledger_deactivate_sql(spec.schema), params)
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    # A batch of no files is recorded as one row for its manifest (manifest.EMPTY_BATCH_CHECKSUM):
    # otherwise an empty day would leave no active row, and an older batch could load over it.
    files = [(p.url, p.checksum, p.row_count) for p in batch.parts] or [(batch.manifest_url, batch.checksums[0], 0)]
    for url, checksum, row_count in files:
        cur.execute(
            sqlb.ledger_insert_sql(spec.schema),
            {
                **params,
                "file_url": url,
                "checksum": checksum,
                "row_count": row_count,
                "batch_rows_loaded": rows_loaded,
                "load_id": load_id,
                "run_id": run_id,
                "loaded_at": loaded_at,
                "active": True,
                "batch_id": batch.batch_id,
                "read_at": batch.read_at,
            },
        )
