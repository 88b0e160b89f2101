"""Load one staged batch into its warehouse table, exactly once, in one transaction.

Exactly once rests on the load ledger, written in the same transaction as the rows:
- the ledger's active files for (table, partition) equal the batch's files and checksums
  -> the batch is already in the table; nothing is done (a retried or duplicated run);
- anything else -> the load runs and, for replace mode, takes the partition's place entirely
  (a changed file under the same partition replaces the partition's rows).
A failure anywhere rolls back rows and ledger together, so nothing is ever half-loaded.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from warehouse_platform.lib import load_sql_builder as sqlb
from warehouse_platform.lib.staged_files import StagedBatch
from warehouse_platform.lib.table_spec import TableSpec
from warehouse_platform.stage.storage import Stage
from warehouse_platform.warehouse.load_errors import LoadError
from warehouse_platform.warehouse.resources import Warehouse

UNPARTITIONED = "unpartitioned"


@dataclass(frozen=True)
class LoadReport:
    table: str
    partition_key: str
    load_id: str
    already_loaded: bool
    rows_staged: int
    rows_loaded: int
    duplicates_skipped: int
    files: int
    bytes: int
    seconds: float
    partition_rows: int
    table_rows: int
    copy_statement: str


def load_staged_batch(
    warehouse: Warehouse, stage: Stage, spec: TableSpec, batch: StagedBatch, run_id: str
) -> LoadReport:
    started = time.monotonic()
    partition_key = batch.partition_key or UNPARTITIONED
    if list(batch.columns) != list(spec.column_names):
        raise LoadError(
            spec.qualified_name, batch.manifest_url, None, None,
            f"schema drift: staged columns {list(batch.columns)} != table contract {list(spec.column_names)}",
        )
    params = {
        "table_name": spec.qualified_name,
        "partition_key": partition_key,
        "partition_date": batch.partition_key,
        "load_id": uuid.uuid4().hex,
    }
    warehouse.ensure_table(spec)
    with warehouse.connection() as conn:
        try:
            with conn.cursor() as cur:
                cur.execute(sqlb.lock_table_sql(spec))
                cur.execute(sqlb.ledger_active_files_sql(spec.schema), params)
                loaded = {(url, checksum) for url, checksum, _ in cur.fetchall()}
                wanted = {(p.url, f"sha256:{p.sha256}") for p in batch.parts}
                already = bool(wanted) and loaded == wanted
                rows_staged = rows_loaded = 0
                if not already:
                    rows_staged, rows_loaded = _load(cur, warehouse, stage, spec, batch, params, run_id)
                cur.execute(sqlb.count_partition_rows_sql(spec), params)
                partition_rows = cur.fetchone()[0]
                cur.execute(sqlb.count_table_rows_sql(spec))
                table_rows = cur.fetchone()[0]
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    copy_sql = (
        sqlb.copy_from_stdin_sql(spec)
        if warehouse.dialect == "postgres"
        else sqlb.copy_from_s3_manifest_sql(spec, batch.manifest_url, "<iam-role>")
    )
    return LoadReport(
        table=spec.qualified_name,
        partition_key=partition_key,
        load_id=params["load_id"],
        already_loaded=already,
        rows_staged=rows_staged,
        rows_loaded=rows_loaded,
        duplicates_skipped=rows_staged - rows_loaded,
        files=len(batch.parts),
        bytes=batch.content_length,
        seconds=round(time.monotonic() - started, 3),
        partition_rows=partition_rows,
        table_rows=table_rows,
        copy_statement=copy_sql,
    )


def _load(cur, warehouse: Warehouse, stage: Stage, spec: TableSpec, batch: StagedBatch, params: dict, run_id: str):
    cur.execute(sqlb.create_staging_sql(spec, warehouse.dialect))
    if batch.parts:
        warehouse.copy_into_staging(cur, spec, batch, stage)
    cur.execute(sqlb.count_staging_sql(spec))
    rows_staged = cur.fetchone()[0]
    if rows_staged != batch.row_count:
        raise LoadError(
            spec.qualified_name, batch.manifest_url, None, None,
            f"manifest lists {batch.row_count} rows but COPY read {rows_staged}",
        )
    cur.execute(sqlb.count_null_keys_sql(spec))
    null_keys = cur.fetchone()[0]
    if null_keys:
        raise LoadError(
            spec.qualified_name, batch.manifest_url, None, ", ".join(spec.primary_key),
            f"{null_keys} rows have a NULL primary key",
        )
    delete_sql = sqlb.delete_replaced_rows_sql(spec)
    if delete_sql:
        cur.execute(delete_sql, params)
    cur.execute(sqlb.insert_from_staging_sql(spec), params)
    rows_loaded = cur.rowcount
    cur.execute(sqlb.ledger_deactivate_sql(spec.schema), params)
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    for part in batch.parts:
        cur.execute(
            sqlb.ledger_insert_sql(spec.schema),
            {
                **params,
                "file_url": part.url,
                "checksum": f"sha256:{part.sha256}",
                "row_count": part.row_count,
                "run_id": run_id,
                "loaded_at": loaded_at,
                "active": True,
            },
        )
    cur.execute(sqlb.drop_staging_sql(spec))
    return rows_staged, rows_loaded
