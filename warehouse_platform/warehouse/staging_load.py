"""Load through a temporary staging table, in one transaction (Redshift always; Postgres for
unpartitioned tables and appends).

lock target -> ledger check -> COPY into staging -> row count and NULL-key checks -> delete
what the load replaces -> insert one row per key (ROW_NUMBER in the declared order) -> ledger.
"""

from __future__ import annotations

from warehouse_platform.contract.redshift_types import varchar_bytes
from warehouse_platform.contract.table_spec import DeleteKind, LoadMode
from warehouse_platform.sql import load as sqlb
from warehouse_platform.sql.quoting import quote_ident
from warehouse_platform.staged_files.load_error import LoadError
from warehouse_platform.warehouse import ledger
from warehouse_platform.warehouse.key_window_load import HeldBack, hold_back_repeated_keys, restore_unbeaten_copies
from warehouse_platform.warehouse.load_errors import load_transaction
from warehouse_platform.warehouse.load_request import LoadOutcome, LoadRequest


def _counts(cur, req: LoadRequest) -> tuple[int, int]:
    cur.execute(sqlb.count_partition_rows_sql(req.spec), req.params)
    partition_rows = cur.fetchone()[0]
    cur.execute(sqlb.count_table_rows_sql(req.spec))
    return partition_rows, cur.fetchone()[0]


def enforce_text_widths_in_table(cur, req: LoadRequest, table_sql: str) -> None:
    """Postgres, after COPY and before anything reaches the target: a table declaring
    truncate_columns has its too-wide values cut, as Redshift's COPY would; otherwise files staged
    without width statistics are measured in bytes, as Redshift would, and refused."""
    spec = req.spec
    if spec.truncate_columns:
        for statement in sqlb.cut_text_sql(spec, table_sql):
            cur.execute(statement)
        return
    declared = {c: varchar_bytes(spec.column(c).sql_type) for c in spec.text_column_names}
    declared = {c: n for c, n in declared.items() if n is not None}
    if not declared or all(set(declared) <= set(p.widest) for p in req.batch.parts):
        return
    cur.execute(sqlb.max_text_bytes_sql(table_sql, tuple(declared)))
    for (column, limit), widest in zip(declared.items(), cur.fetchone(), strict=True):
        if widest is not None and widest > limit:
            raise LoadError(
                spec.qualified_name, req.batch.manifest_url, None, column,
                f"a value is {widest} bytes (UTF-8) but the column is varchar({limit}); Redshift would reject it",
            )


DELETED_KEYS_PER_STATEMENT = 500


def _apply_deletes(cur, req: LoadRequest) -> int:
    """The whole table's keys the extract found gone from the source, under the delete policy;
    returns how many rows it removed or marked."""
    keys = req.batch.deleted_keys or ()
    changed = 0
    for start in range(0, len(keys), DELETED_KEYS_PER_STATEMENT):
        chunk = keys[start:start + DELETED_KEYS_PER_STATEMENT]
        if (statement := sqlb.apply_deletes_sql(req.spec, len(chunk))) is None:
            return 0
        cur.execute(statement, {**req.params, **sqlb.deleted_keys_params(chunk)})
        changed += cur.rowcount
    return changed


def load_through_staging(warehouse, stage, req: LoadRequest) -> LoadOutcome:
    spec = req.spec
    with warehouse.connection() as conn, load_transaction(conn, spec.qualified_name, req.batch.manifest_url):
        with conn.cursor() as cur:
            cur.execute(sqlb.lock_table_sql(spec))
            if ledger.is_loaded(cur, spec, req.batch, req.partition_key):
                conn.rollback()  # a duplicated run got here first
                return warehouse.describe_loaded(req)
            cur.execute(sqlb.create_staging_sql(spec, warehouse.dialect))
            statement = warehouse.copy_into_staging(cur, spec, req.batch, stage) if req.batch.parts else ""
            cur.execute(sqlb.count_staging_sql(spec))
            rows_staged = cur.fetchone()[0]
            if rows_staged != req.batch.row_count:
                raise LoadError(
                    spec.qualified_name, req.batch.manifest_url, None, None,
                    f"manifest lists {req.batch.row_count} rows but COPY read {rows_staged}",
                )
            cur.execute(sqlb.count_null_keys_sql(spec))
            if null_keys := cur.fetchone()[0]:
                raise LoadError(
                    spec.qualified_name, req.batch.manifest_url, None, ", ".join(spec.primary_key),
                    f"{null_keys} rows have a NULL primary key",
                )
            if warehouse.dialect == "postgres":
                enforce_text_widths_in_table(cur, req, quote_ident(sqlb.staging_table_name(spec)))
            warehouse.prepare_load_target(cur, req)
            cur.execute(sqlb.count_partition_rows_sql(spec), req.params)
            rows_held = cur.fetchone()[0]
            superseded = moved = departed = 0
            held = req.batch.held_load_ids
            if spec.mode == LoadMode.UPSERT:
                # Never put an older version of a key back (see sql/load.newer_row_sql).
                cur.execute(sqlb.delete_superseded_sql(spec, quote_ident(sqlb.staging_table_name(spec))), req.params)
                superseded = cur.rowcount
            # Rows the batch shows gone from the source, under the delete policy: those of a
            # replaced day or table when the policy keeps or marks them (under hard the whole
            # day is replaced below), and the rows a moving day held when its extract read the
            # source whose keys it no longer offers (a moved key is offered, for its new day).
            departed_sql = None
            if spec.mode == LoadMode.REPLACE and spec.deletes.kind != DeleteKind.HARD:
                departed_sql = sqlb.departed_rows_sql(spec, None)
            elif spec.mode == LoadMode.UPSERT and spec.partitioned and held is not None:
                departed_sql = sqlb.departed_rows_sql(spec, held)
            if departed_sql is not None:
                cur.execute(departed_sql, {**req.params, **sqlb.held_loads_params(held or ())})
                departed = cur.fetchone()[0] if spec.deletes.kind == DeleteKind.KEEP else cur.rowcount
            if spec.moves_between_days:
                cur.execute(sqlb.count_moved_staging_rows_sql(spec), req.params)
                moved = cur.fetchone()[0]
            held_back = HeldBack()
            if spec.key_window_days:
                # A key repeated in a neighbouring day: the later day's copy is the one held.
                held_back = hold_back_repeated_keys(cur, req, quote_ident(sqlb.staging_table_name(spec)))
            if delete_sql := sqlb.delete_replaced_rows_sql(spec):
                cur.execute(delete_sql, req.params)
            cur.execute(sqlb.insert_from_staging_sql(spec), req.params)
            rows_loaded = cur.rowcount
            restored = restore_unbeaten_copies(cur, req) if spec.key_window_days else 0
            deleted = departed + _apply_deletes(cur, req)
            # With the held-back copies: what the day holds plus its copies held back (see partition_swap_load).
            ledger.record(cur, spec, req.batch, req.partition_key, req.load_id, req.run_id, rows_loaded + held_back.offered)
            cur.execute(sqlb.drop_staging_sql(spec))
            partition_rows, table_rows = _counts(cur, req)
            # Judged on what the load leaves, before the commit: a refusal rolls back everything.
            req.refuse_sharp_shrink(rows_held, partition_rows + moved + held_back.offered)
    return LoadOutcome(
        False, rows_staged, rows_loaded, partition_rows, table_rows, copy_statement=statement, rows_superseded=superseded,
        rows_moved=moved, keys_deleted=deleted, rows_held_back=held_back.offered, earlier_copies_held_back=held_back.earlier,
        copies_restored=restored,
    )
