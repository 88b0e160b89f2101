"""Postgres: load a day into a new table in parallel, then swap it in for the day's partition.

Replacing a day with DELETE + INSERT writes every row twice; here the COPY writes the rows
once, into a table that becomes the day's partition. The new table is loaded by several
connections at once (one per core), then one transaction checks it (row count against the
manifest, NULL keys, duplicate keys -> deduplicated in the declared order), and detaches
the old day, attaches the new one and records the ledger. Until that commit readers see the
old day; after a failure the new table is dropped and nothing else has changed. A load killed
before it could drop its table leaves it to the next load of the table, which sweeps it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import psycopg2
import psycopg2.errors

from warehouse_platform.contract.table_spec import DeleteKind, LoadMode
from warehouse_platform.sql import load as sqlb
from warehouse_platform.sql import partition_swap as swap
from warehouse_platform.sql.key_sets import key_array_params
from warehouse_platform.sql.quoting import quote_table
from warehouse_platform.staged_files.load_error import LoadError
from warehouse_platform.warehouse import ledger
from warehouse_platform.warehouse.key_window_load import HeldBack, hold_back_repeated_keys, restore_unbeaten_copies
from warehouse_platform.warehouse.load_errors import load_transaction
from warehouse_platform.warehouse.load_request import LoadOutcome, LoadRequest
from warehouse_platform.warehouse.staging_load import enforce_text_widths_in_table

DUPLICATE_SAMPLE = 20


def _require_partitioned_target(cur, req: LoadRequest) -> None:
    cur.execute(swap.relkind_sql(), {"table": f"{req.spec.schema}.{req.spec.name}"})
    row = cur.fetchone()
    if row is None or row[0] != "p":
        raise LoadError(
            req.spec.qualified_name, req.batch.manifest_url, None, None,
            "the table exists but is not partitioned by day (created by an older version of the platform); "
            "drop it (or `make clean` locally) and load again",
        )


@contextmanager
def _owning_the_load_table(warehouse, load_id: int) -> Iterator[None]:
    """A session that holds the load's advisory lock for as long as its load table may exist
    (see partition_swap_sql.claim_load_sql): closing it, or the process dying, releases it."""
    owner = warehouse.connect_autocommit()
    try:
        with owner.cursor() as cur:
            cur.execute(swap.claim_load_sql(), {"load_id": load_id})
        yield
    finally:
        owner.close()


def sweep_abandoned_load_tables(warehouse, schema: str, table: str | None = None) -> list[str]:
    """Drop the load tables in `schema`'s partitions schema (of `table` only, if given) that no
    live load owns: left by a load whose process was killed (SIGKILL, OOM, a lost machine)
    before it could drop them. A live load's table is never touched: its owner holds the lock."""
    partitions = swap.partitions_schema_of(schema)
    dropped = []
    conn = warehouse.connect_autocommit()
    try:
        with conn.cursor() as cur:
            # A dying load's backend may still hold its table for a moment; it is swept next time.
            cur.execute("SET lock_timeout = '2s'")
            cur.execute(swap.tables_in_schema_sql(), {"schema": partitions})
            for (name,) in cur.fetchall():
                parsed = swap.parse_load_table_name(name)
                if parsed is None or (table is not None and name != swap.load_table_name_of(table, parsed[1])):
                    continue
                cur.execute(swap.try_claim_load_sql(), {"load_id": parsed[1]})
                if not cur.fetchone()[0]:
                    continue  # its load is alive
                try:
                    cur.execute(swap.drop_load_table_sql(partitions, name))
                    dropped.append(f"{partitions}.{name}")
                except psycopg2.errors.LockNotAvailable:
                    pass
                finally:
                    cur.execute(swap.release_load_sql(), {"load_id": parsed[1]})
    finally:
        conn.close()
    return dropped


def load_by_partition_swap(warehouse, stage, req: LoadRequest) -> LoadOutcome:
    spec, day = req.spec, req.partition_date
    load_table = swap.load_table_name(spec, req.load_id)
    with _owning_the_load_table(warehouse, req.load_id):
        sweep_abandoned_load_tables(warehouse, spec.schema, spec.name)
        with warehouse.connection() as conn, load_transaction(conn, spec.qualified_name, req.batch.manifest_url):
            with conn.cursor() as cur:
                _require_partitioned_target(cur, req)
                warehouse.lock_ddl(cur)
                for statement in swap.create_load_table_sql(spec, load_table, day, req.load_id):
                    cur.execute(statement)
        try:
            rows_copied, statement = 0, ""
            if req.batch.parts:
                rows_copied, statement = warehouse.copy_in_parallel(
                    quote_table(swap.partitions_schema(spec), load_table), spec, req.batch, stage
                )
            return replace(_swap_in(warehouse, req, load_table, rows_copied), copy_statement=statement)
        finally:
            _drop_load_table(warehouse, spec, load_table)


def _drop_load_table(warehouse, spec, load_table: str) -> None:
    """A no-op once the table was attached (renamed). When the warehouse cannot be reached the
    table stays, for the next load of the table (or sweep_abandoned_loads) to sweep, and the
    load's own error is the one reported."""
    try:
        conn = warehouse.connect_autocommit()
        try:
            with conn.cursor() as cur:
                cur.execute(swap.drop_load_table_sql(swap.partitions_schema(spec), load_table))
        finally:
            conn.close()
    except psycopg2.OperationalError:
        pass


def _find_duplicates(cur, req: LoadRequest, load_table: str) -> list[tuple]:
    """Duplicate keys in the new day's table: only the stage's candidates when it vouched for
    the rest, every row otherwise (files from elsewhere)."""
    candidates = req.batch.duplicate_candidates
    if candidates is None:
        cur.execute(swap.duplicate_keys_sql(req.spec, load_table))
        return cur.fetchall()
    if not candidates:
        return []
    cur.execute(swap.duplicate_candidates_sql(req.spec, load_table), key_array_params(req.spec, "candidates", candidates))
    return cur.fetchall()


def _swap_in(warehouse, req: LoadRequest, load_table: str, rows_staged: int) -> LoadOutcome:
    spec, day = req.spec, req.partition_date
    with warehouse.connection() as conn, load_transaction(conn, spec.qualified_name, req.batch.manifest_url):
        with conn.cursor() as cur:
            # Room for the duplicate check's hash table; local to this transaction.
            cur.execute("SET LOCAL work_mem = '256MB'")
            cur.execute(swap.lock_parent_sql(spec))
            if ledger.is_loaded(cur, spec, req.batch, req.partition_key):
                conn.rollback()  # a duplicated run got here first
                return warehouse.describe_loaded(req)
            # NULL keys cannot get this far: the new table keeps the target's NOT NULL
            # constraints, so COPY itself refuses them with the file and line.
            if rows_staged != req.batch.row_count:
                raise LoadError(
                    spec.qualified_name, req.batch.manifest_url, None, None,
                    f"manifest lists {req.batch.row_count} rows but COPY read {rows_staged}",
                )
            loaded = quote_table(swap.partitions_schema(spec), load_table)
            enforce_text_widths_in_table(cur, req, loaded)
            duplicates = _find_duplicates(cur, req, load_table)
            rows_loaded = rows_staged
            if duplicates:
                cur.execute(
                    swap.delete_duplicates_sql(spec, load_table, sqlb.dedupe_order_sql(spec)),
                    key_array_params(spec, "duplicates", [d[:-1] for d in duplicates]),
                )
                rows_loaded -= cur.rowcount
            held_back = HeldBack()
            if spec.key_window_days:
                # A key repeated in a neighbouring day: the later day's copy is the one held.
                held_back = hold_back_repeated_keys(cur, req, loaded)
                rows_loaded -= held_back.rows_removed
            superseded = moved = carried = 0
            if spec.mode == LoadMode.UPSERT:
                superseded, moved, carried = _apply_key_versions(warehouse, cur, req, load_table, loaded)
            deleted, kept = _keys_deleted_in_the_source(cur, req, load_table)
            rows_loaded -= superseded
            cur.execute(sqlb.count_partition_rows_sql(spec), req.params)
            rows_held = cur.fetchone()[0]
            # What the day will hold, derived from the statements' row counts (no scan of the
            # new day): the batch's rows taken, plus rows carried over or kept, minus those moved.
            day_rows = rows_loaded + carried + kept - moved
            # Rows that moved to their own days, or were held back for a later day's copy of
            # their key, left this day but are not lost.
            req.refuse_sharp_shrink(rows_held, day_rows + moved + held_back.offered)
            cur.execute(
                swap.find_day_partition_sql(),
                {"parent": f"{spec.schema}.{spec.name}", "bound": swap.partition_bound(day)},
            )
            if old := cur.fetchone():
                for statement in swap.detach_and_drop_sql(spec, *old):
                    cur.execute(statement)
            for statement in swap.attach_sql(spec, load_table, day):
                cur.execute(statement)
            restored = restore_unbeaten_copies(cur, req) if spec.key_window_days else 0
            # The batch's rows after its own duplicates, those held back included: with the day's
            # held-back copies, what the day holds (the reconciliation check counts both).
            ledger.record(cur, spec, req.batch, req.partition_key, req.load_id, req.run_id, rows_loaded + held_back.offered)
            cur.execute(sqlb.count_table_rows_sql(spec))
            table_rows = cur.fetchone()[0]
    return LoadOutcome(
        False, rows_staged, rows_loaded, day_rows, table_rows,
        tuple(tuple(d) for d in duplicates[:DUPLICATE_SAMPLE]), rows_superseded=superseded, rows_moved=moved,
        keys_deleted=deleted, rows_held_back=held_back.offered, earlier_copies_held_back=held_back.earlier,
        copies_restored=restored,
    )


def _apply_key_versions(warehouse, cur, req: LoadRequest, load_table: str, loaded: str) -> tuple[int, int, int]:
    """Upsert across days: the key, not the day, is the unit of truth. Returns (offered rows not
    taken because the table holds a newer version of their key, rows moved to other days, rows
    the day holds that are not the batch's: newer rows kept and rows its extract never saw).

    - a key the table holds in a newer version keeps that version: in this day (the offered row
      takes the day's values) or in another day (the offered row is dropped); this batch was
      staged before that change;
    - a row this day holds that the batch's extract never saw (a key another day's load moved
      here after this batch read the source) stays;
    - every other key of this load leaves whichever other day held it;
    - rows the extract found living in other days (keys that left this day, looked up in the
      source) are loaded into those days.
    A batch without the extract's view of the day (held_load_ids None: staged by hand, or by an
    older version) replaces the day as it always did."""
    spec, held = req.spec, req.batch.held_load_ids
    kept_in_day = carried = 0
    if held is not None:
        # The offered row takes the day's newer values: superseded, but still a row of the day.
        cur.execute(swap.keep_newer_rows_of_the_day_sql(spec, load_table), req.params)
        kept_in_day = cur.rowcount
    cur.execute(sqlb.delete_superseded_sql(spec, loaded, other_days_only=True), req.params)
    dropped = cur.rowcount
    if held is not None:
        cur.execute(swap.carry_over_unknown_rows_sql(spec, load_table, held), {**req.params, **sqlb.held_loads_params(held)})
        carried = cur.rowcount
    cur.execute(swap.delete_keys_in_other_days_sql(spec, load_table), req.params)
    moved = _route_moved_rows(warehouse, cur, req, load_table) if spec.moves_between_days else 0
    # Rows of the day that are not the batch's: the newer rows it kept, and the rows carried over.
    return kept_in_day + dropped, moved, kept_in_day + carried


def _keys_deleted_in_the_source(cur, req: LoadRequest, load_table: str) -> tuple[int, int]:
    """(keys the day held that the source no longer holds, rows kept for them). The swap drops
    them under `deletes: hard`; keep and soft carry them into the new day. Counted only where it
    is cheap to know or needed: a day whose extract saw the day's keys (tables whose keys move),
    or a table that keeps deleted keys. A plain replace of a day is not scanned for them (the
    whole-day load stays at its speed; the shrink guard still watches it)."""
    spec, held = req.spec, req.batch.held_load_ids
    if held is None and spec.deletes.kind == DeleteKind.HARD:
        return 0, 0
    params = {**req.params, **sqlb.held_loads_params(held or ())}
    if spec.deletes.kind != DeleteKind.HARD:
        cur.execute(swap.keep_deleted_rows_sql(spec, load_table, held), params)
        return cur.rowcount, cur.rowcount
    cur.execute(swap.count_deleted_keys_sql(spec, load_table, held), params)
    return cur.fetchone()[0], 0


def _route_moved_rows(warehouse, cur, req: LoadRequest, load_table: str) -> int:
    """Rows of the load table that live in other days go to those days (their partitions made
    first); returns how many moved."""
    cur.execute(swap.moved_days_sql(req.spec, load_table), req.params)
    days = [day for (day,) in cur.fetchall()]
    if not days:
        return 0
    warehouse.lock_ddl(cur)
    for day in days:
        for statement in swap.create_day_partition_sql(req.spec, day):
            cur.execute(statement)
    insert, delete = swap.route_moved_rows_sql(req.spec, load_table)
    cur.execute(insert, req.params)
    moved = cur.rowcount
    cur.execute(delete, req.params)
    return moved
