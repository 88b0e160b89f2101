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


def newest_active_batch(cur, spec: TableSpec, partition_key: str) -> str | None:
    cur.execute(sqlb.ledger_active_batch_sql(spec.schema), _params(spec, partition_key))
    row = cur.fetchone()
    return row[0] if row else None


def is_loaded(cur, spec: TableSpec, batch: StagedBatch, partition_key: str) -> bool:
    """True when loading `batch` must change nothing: the partition already holds exactly its
    files (by checksum: every run stages under its own folder, so names differ), or holds a batch
    staged for a run requested after this one (loading this older view would lose what the newer
    one added, e.g. a second landed file)."""
    if batch.parts and active_checksums(cur, spec, partition_key) == batch.checksums:
        return True
    newest = newest_active_batch(cur, spec, partition_key)
    return batch.batch_id is not None and newest is not None and batch.batch_id < newest


def record(
    cur, spec: TableSpec, batch: StagedBatch, partition_key: str, load_id: int, run_id: str, rows_loaded: int
) -> None:
    """The batch's files become the partition's content; earlier files stay as inactive history."""
    params = _params(spec, partition_key)
    cur.execute(sqlb.ledger_deactivate_sql(spec.schema), params)
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    for part in batch.parts:
        cur.execute(
            sqlb.ledger_insert_sql(spec.schema),
            {
                **params,
                "file_url": part.url,
                "checksum": part.checksum,
                "row_count": part.row_count,
                "batch_rows_loaded": rows_loaded,
                "load_id": load_id,
                "run_id": run_id,
                "loaded_at": loaded_at,
                "active": True,
                "batch_id": batch.batch_id,
            },
        )
