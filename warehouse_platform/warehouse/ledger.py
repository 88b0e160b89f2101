"""The load ledger: which files are in a table, written in the same transaction as their rows."""

from __future__ import annotations

from datetime import datetime, timezone

from warehouse_platform.lib import load_sql_builder as sqlb
from warehouse_platform.lib.staged_files import StagedBatch
from warehouse_platform.lib.table_spec import TableSpec


def active_files(cur, spec: TableSpec, partition_key: str) -> set[tuple[str, str]]:
    cur.execute(sqlb.ledger_active_files_sql(spec.schema), {"table_name": spec.qualified_name, "partition_key": partition_key})
    return {(url, checksum) for url, checksum, _, _ in cur.fetchall()}


def is_loaded(cur, spec: TableSpec, batch: StagedBatch, partition_key: str) -> bool:
    """True when exactly this batch's files (by URL and checksum) are the partition's content."""
    wanted = {(p.url, p.checksum) for p in batch.parts}
    return bool(wanted) and active_files(cur, spec, partition_key) == wanted


def record(
    cur, spec: TableSpec, batch: StagedBatch, partition_key: str, load_id: int, run_id: str, rows_loaded: int
) -> None:
    """The batch's files become the partition's content; earlier files stay as inactive history."""
    params = {"table_name": spec.qualified_name, "partition_key": partition_key}
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
            },
        )
