"""The statements of one load, for Postgres and Redshift, from the same builders.

A load runs in one transaction:
    lock target -> create staging -> COPY into staging -> check keys -> delete what the load
    replaces -> insert the deduplicated staging rows -> record the files in the ledger.
Placeholders are psycopg2's %(name)s, which both the Postgres and the Redshift connection use.
"""

from __future__ import annotations

from collections.abc import Sequence

from warehouse_platform.contract.catalog_rules import parse_order_term
from warehouse_platform.contract.identifiers import fit_identifier
from warehouse_platform.contract.redshift_types import column_byte_limit
from warehouse_platform.contract.table_spec import (
    DEDUPE_RANK_COLUMN,
    LOAD_ID_COLUMN,
    PARTITION_COLUMN,
    DeleteKind,
    LoadMode,
    TableSpec,
)
from warehouse_platform.sql.ddl import LEDGER_TABLE, Dialect, column_type, default_sql
from warehouse_platform.sql.quoting import (
    quote_ident,
    quote_idents,
    quote_literal,
    quote_table,
)

LEDGER_COLUMNS = (
    "table_name", "partition_key", "file_url", "checksum", "row_count", "batch_rows_loaded", "load_id", "run_id",
    "loaded_at", "active", "batch_id", "read_at",
)


def staging_table_name(spec: TableSpec) -> str:
    return fit_identifier(spec.name, prefix="stg_")


def lock_table_sql(spec: TableSpec) -> str:
    # Concurrent loads of one table would otherwise interleave delete/insert (Postgres) or fail
    # with a serializable-isolation error (Redshift); the lock serializes them per table.
    return f"LOCK TABLE {quote_table(spec.schema, spec.name)}"


def create_staging_sql(spec: TableSpec, dialect: Dialect) -> str:
    """A temporary table with the contract columns, all nullable, so a NULL key reaches our own
    check (with a readable message) instead of failing COPY on a NOT NULL constraint."""
    columns = ", ".join(
        f"{quote_ident(c.name)} {column_type(c, dialect, spec.truncate_columns)}"
        + (f" {default}" if (default := default_sql(c, dialect)) is not None else "")
        for c in spec.columns
    )
    name = quote_ident(staging_table_name(spec))
    if dialect == "postgres":
        return f"CREATE TEMPORARY TABLE {name} ({columns}) ON COMMIT DROP"
    # Redshift has no ON COMMIT DROP; the loader drops it before committing.
    return f"CREATE TEMPORARY TABLE {name} ({columns})"


def drop_staging_sql(spec: TableSpec) -> str:
    return f"DROP TABLE IF EXISTS {quote_ident(staging_table_name(spec))}"


def copy_from_stdin_sql(spec: TableSpec, target: str | None = None, columns: tuple[str, ...] | None = None) -> str:
    """Postgres: one staged part streamed through the client, into `target` (an already quoted
    name; the load's staging table by default). HEADER MATCH makes Postgres compare the file's
    header with the column list, so a drifted file fails loudly. `columns`: the file's (the
    contract's by default); columns left out get the table's defaults."""
    return (
        f"COPY {target or quote_ident(staging_table_name(spec))} ({quote_idents(columns or spec.column_names)}) "
        "FROM STDIN WITH (FORMAT csv, HEADER MATCH)"
    )


def copy_from_s3_manifest_sql(
    spec: TableSpec, manifest_url: str, iam_role_arn: str, region: str | None = None, columns: tuple[str, ...] | None = None
) -> str:
    """Redshift: every part of a batch in one COPY through its manifest (one COPY for many files
    lets Redshift spread them over all slices)."""
    options = [
        f"IAM_ROLE {quote_literal(iam_role_arn)}",
        "MANIFEST",
        "GZIP",
        "CSV",
        "IGNOREHEADER 1",
        # The stage writes NULL as an unquoted empty field and empty text as "" (as Postgres' COPY
        # TO does; Postgres' COPY FROM reads them apart by the quotes). NULL AS '' names the
        # unquoted empty field NULL on Redshift too, instead of EMPTYASNULL, which made empty
        # text NULL as well.
        "NULL AS ''",
        "TIMEFORMAT 'auto'",
        "DATEFORMAT 'auto'",
        "COMPUPDATE OFF",
        "STATUPDATE OFF",
    ]
    if spec.truncate_columns:
        options.append("TRUNCATECOLUMNS")
    if region:
        options.append(f"REGION {quote_literal(region)}")
    return (
        f"COPY {quote_ident(staging_table_name(spec))} ({quote_idents(columns or spec.column_names)})\n"
        f"FROM {quote_literal(manifest_url)}\n" + "\n".join(options)
    )


def cut_text_sql(spec: TableSpec, table_sql: str) -> list[str]:
    """Postgres, for tables declaring truncate_columns: what Redshift's TRUNCATECOLUMNS does
    during COPY, after it. Each text value wider than its column (in UTF-8 bytes) is cut to the
    longest prefix that fits and ends on a character boundary: the first of bytes n, n-1, n-2,
    n-3 (0-based) that is not a continuation byte (10xxxxxx) starts the character left out."""
    statements = []
    for column in spec.text_column_names:
        limit, name = column_byte_limit(spec.column(column).sql_type), quote_ident(column)
        raw = f"convert_to({name}, 'UTF8')"
        cases = " ".join(
            f"WHEN get_byte({raw}, {limit - k}) & 192 <> 128 THEN convert_from(substring({raw} FROM 1 FOR {limit - k}), 'UTF8')"
            for k in range(4)
            if limit - k >= 0
        )
        statements.append(f"UPDATE {table_sql} SET {name} = CASE {cases} END WHERE octet_length({name}) > {limit}")
    return statements


def count_null_keys_sql(spec: TableSpec) -> str:
    predicate = " OR ".join(f"{quote_ident(k)} IS NULL" for k in spec.primary_key)
    return f"SELECT count(*) FROM {quote_ident(staging_table_name(spec))} WHERE {predicate}"


def max_text_bytes_sql(table_sql: str, columns: tuple[str, ...]) -> str:
    """Widest value of each column in bytes (UTF-8), as Redshift measures VARCHAR."""
    widths = ", ".join(f"max(octet_length({quote_ident(c)}))" for c in columns)
    return f"SELECT {widths} FROM {table_sql}"


def count_staging_sql(spec: TableSpec) -> str:
    return f"SELECT count(*) FROM {quote_ident(staging_table_name(spec))}"


def _order_term(spec: TableSpec, term: str) -> str:
    """'ts desc' -> '"ts" DESC NULLS LAST', refusing anything that is not a declared column with a
    direction (contract/catalog_rules.parse_order_term).

    NULLS LAST unless the term says otherwise: Postgres and Redshift both sort NULLs first under
    DESC, so a duplicate without a value would beat the one with a value under "latest ts wins"."""
    try:
        parsed = parse_order_term(term, spec.column_names)
    except ValueError as error:
        raise ValueError(f"{spec.qualified_name}: {error}") from None
    direction = "DESC" if parsed.descending else "ASC"
    return f"{quote_ident(parsed.column)} {direction} NULLS {'FIRST' if parsed.nulls_first else 'LAST'}"


def dedupe_order_sql(spec: TableSpec) -> str:
    return ", ".join(_order_term(spec, t) for t in (spec.dedupe_order or spec.primary_key))


def _deduplicated_staging_sql(spec: TableSpec) -> str:
    order = dedupe_order_sql(spec)
    return (
        f"SELECT {quote_idents(spec.column_names)}, ROW_NUMBER() OVER ("
        f"PARTITION BY {quote_idents(spec.primary_key)} ORDER BY {order}) AS {DEDUPE_RANK_COLUMN} "
        f"FROM {quote_ident(staging_table_name(spec))}"
    )


def newer_row_sql(spec: TableSpec, held: str) -> str:
    """True when the row `held` (the target's) is the source's newer word on its key than this
    load's batch: the load that wrote it read the source later (the ledger's
    read_at against %(read_at)s), or at the same instant but for a run requested later
    (%(batch_id)s). Not the cursor: a clock-skewed application server, or a restored row, moves
    updated_at back, and the read that saw that is still the newer read. Rows and batches that
    read no source (NULL read_at) are never judged newer: the load replaces them as before."""
    ledger = quote_table(spec.schema, LEDGER_TABLE)
    return (
        f"EXISTS (SELECT 1 FROM {ledger} l WHERE l.table_name = %(table_name)s "
        f"AND l.load_id = {held}.{quote_ident(LOAD_ID_COLUMN.name)} "
        "AND (l.read_at > %(read_at)s OR (l.read_at = %(read_at)s AND l.batch_id > %(batch_id)s)))"
    )


def key_match_sql(spec: TableSpec, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{quote_ident(k)} = {right}.{quote_ident(k)}" for k in spec.primary_key)


def delete_superseded_sql(spec: TableSpec, offered_table_sql: str, other_days_only: bool = False) -> str:
    """Upsert: drop the offered rows whose key the target already holds in a newer version (a
    lookback day staged before a later day's refund, loaded after it). `offered_table_sql`: the
    load's table (quoted). `other_days_only`: the day being replaced is not compared (the
    partition swap replaces it whole)."""
    target = quote_table(spec.schema, spec.name)
    elsewhere = f" AND t.{quote_ident(PARTITION_COLUMN.name)} <> %(partition_date)s" if other_days_only else ""
    return (
        f"DELETE FROM {offered_table_sql} s USING {target} t "
        f"WHERE {key_match_sql(spec, 't', 's')}{elsewhere} AND {newer_row_sql(spec, 't')}"
    )


def count_moved_staging_rows_sql(spec: TableSpec) -> str:
    """Staged rows that live in another day than the one being loaded (keys that moved)."""
    return f"SELECT count(*) FROM {quote_ident(staging_table_name(spec))} WHERE {row_day_sql(spec)} <> %(partition_date)s"


def row_day_sql(spec: TableSpec, alias: str = "") -> str:
    """The day a row of a table whose keys move between days lives in: its day column's date."""
    prefix = f"{alias}." if alias else ""
    return f"CAST({prefix}{quote_ident(spec.source.day_column)} AS date)"


def staged_row_days_sql(spec: TableSpec) -> str:
    """The days the staging table's rows live in (a table whose keys move: each row's own)."""
    return f"SELECT DISTINCT {row_day_sql(spec)} FROM {quote_ident(staging_table_name(spec))}"


def delete_replaced_rows_sql(spec: TableSpec) -> str | None:
    """What a load removes from the target before inserting; None when it removes nothing."""
    target = quote_table(spec.schema, spec.name)
    if spec.mode == LoadMode.APPEND:
        return None
    if spec.mode == LoadMode.REPLACE and spec.deletes.kind == DeleteKind.HARD:
        if spec.partitioned:
            return f"DELETE FROM {target} WHERE {quote_ident(PARTITION_COLUMN.name)} = %(partition_date)s"
        # DELETE, not TRUNCATE: TRUNCATE commits the transaction on Redshift.
        return f"DELETE FROM {target}"
    # Upsert, and replace under `deletes: keep | soft`: the offered keys' rows are replaced; the
    # others stay (departed_rows_sql has marked the ones the source no longer holds).
    day = f"{target}.{quote_ident(PARTITION_COLUMN.name)} = %(partition_date)s AND " if spec.mode == LoadMode.REPLACE and spec.partitioned else ""
    return f"DELETE FROM {target} USING {quote_ident(staging_table_name(spec))} s WHERE {day}{key_match_sql(spec, target, 's')}"


def insert_from_staging_sql(spec: TableSpec) -> str:
    """Insert the staging rows, one per key (the first by dedupe_order), with explicit column
    lists on both sides so added or reordered target columns cannot shift values."""
    target_columns = [*spec.column_names, *(c.name for c in spec.loader_columns)]
    # A row whose key moves between days goes to its own day (a mover the extract looked up).
    day = row_day_sql(spec) if spec.moves_between_days else "%(partition_date)s"
    loader_values = [day, "%(load_id)s"] if spec.partitioned else ["%(load_id)s"]
    return (
        f"INSERT INTO {quote_table(spec.schema, spec.name)} ({quote_idents(target_columns)})\n"
        f"SELECT {quote_idents(spec.column_names)}, {', '.join(loader_values)}\n"
        f"FROM ({_deduplicated_staging_sql(spec)}) deduplicated\n"
        f"WHERE {DEDUPE_RANK_COLUMN} = 1"
    )


def ledger_active_files_sql(schema: str) -> str:
    return (
        f"SELECT file_url, checksum, row_count, batch_rows_loaded FROM {quote_table(schema, LEDGER_TABLE)} "
        "WHERE table_name = %(table_name)s AND partition_key = %(partition_key)s AND active "
        "ORDER BY file_url"
    )


def ledger_active_batch_sql(schema: str) -> str:
    """The partition's active batch: when it read the source, and its batch id (ids sort by
    request time). Its active files all come from one batch (a load deactivates the others)."""
    return (
        f"SELECT max(read_at), max(batch_id) FROM {quote_table(schema, LEDGER_TABLE)} "
        "WHERE table_name = %(table_name)s AND partition_key = %(partition_key)s AND active"
    )


def ledger_loaded_days_sql(schema: str) -> str:
    """The days of a table that hold a loaded batch (an empty day too: its marker row)."""
    return (
        f"SELECT DISTINCT partition_key FROM {quote_table(schema, LEDGER_TABLE)} "
        "WHERE table_name = %(table_name)s AND active"
    )


def ledger_deactivate_sql(schema: str) -> str:
    return (
        f"UPDATE {quote_table(schema, LEDGER_TABLE)} SET active = false "
        "WHERE table_name = %(table_name)s AND partition_key = %(partition_key)s AND active"
    )


def ledger_insert_sql(schema: str) -> str:
    placeholders = ", ".join(f"%({c})s" for c in LEDGER_COLUMNS)
    return f"INSERT INTO {quote_table(schema, LEDGER_TABLE)} ({quote_idents(LEDGER_COLUMNS)}) VALUES ({placeholders})"


def count_partition_rows_sql(spec: TableSpec) -> str:
    target = quote_table(spec.schema, spec.name)
    if spec.partitioned:
        return f"SELECT count(*) FROM {target} WHERE {quote_ident(PARTITION_COLUMN.name)} = %(partition_date)s"
    return f"SELECT count(*) FROM {target}"


def count_table_rows_sql(spec: TableSpec) -> str:
    return f"SELECT count(*) FROM {quote_table(spec.schema, spec.name)}"


def day_keys_sql(spec: TableSpec) -> str:
    """The keys a day of a daily table holds, each with the load that wrote it (one statement:
    one snapshot of both). Both dialects."""
    return (
        f"SELECT {quote_idents(spec.primary_key)}, {quote_ident(LOAD_ID_COLUMN.name)} "
        f"FROM {quote_table(spec.schema, spec.name)} WHERE {quote_ident(PARTITION_COLUMN.name)} = %(partition_date)s"
    )


def held_loads_params(load_ids: Sequence[int]) -> dict[str, int]:
    return {f"held_load_{i}": int(load_id) for i, load_id in enumerate(load_ids)}


def written_by_held_loads_sql(alias: str, load_ids: Sequence[int]) -> str:
    """The row `alias` was written by one of the loads the batch's extract saw in the day
    (parameters from held_loads_params). A plain IN list: Redshift has no array parameters."""
    if not load_ids:
        return "FALSE"
    placeholders = ", ".join(f"%(held_load_{i})s" for i in range(len(load_ids)))
    return f"{alias}.{quote_ident(LOAD_ID_COLUMN.name)} IN ({placeholders})"


def departed_rows_sql(spec: TableSpec, load_ids: Sequence[int] | None) -> str:
    """Staging-table path: the target's rows this batch shows gone from the source, under the
    table's delete policy: removed (hard), marked (soft), or left and counted (keep: a SELECT of
    their count, the figure the other policies get as the statement's row count). Judged within the day being loaded
    (the whole table when unpartitioned) and, for a day of a table whose keys move, among the
    rows the extract knew of (`load_ids`: written by the loads it saw; the rows it did not see
    were written after it read the source, so this batch cannot judge them). A row whose key the
    batch offers has not departed: a key that moved is in the batch, carried to its new day."""
    target = quote_table(spec.schema, spec.name)
    staging = quote_ident(staging_table_name(spec))
    scope = [f"{quote_ident(PARTITION_COLUMN.name)} = %(partition_date)s"] if spec.partitioned else []
    if load_ids is not None:
        scope.append(written_by_held_loads_sql(target, load_ids))
    gone = " AND ".join([*scope, f"NOT EXISTS (SELECT 1 FROM {staging} s WHERE {key_match_sql(spec, target, 's')})"])
    if spec.deletes.kind == DeleteKind.HARD:
        return f"DELETE FROM {target} WHERE {gone}"
    if spec.deletes.kind == DeleteKind.SOFT:
        column = quote_ident(spec.deletes.column)
        return f"UPDATE {target} SET {column} = %(read_at)s WHERE {column} IS NULL AND {gone}"
    return f"SELECT count(*) FROM {target} WHERE {gone}"


def deleted_keys_params(keys: Sequence[Sequence[str]]) -> dict[str, str]:
    return {f"deleted_{i}_{j}": value for i, key in enumerate(keys) for j, value in enumerate(key)}


def _matches_deleted_keys(spec: TableSpec, alias: str, count: int) -> str:
    """The row `alias` has one of `count` keys (parameters from deleted_keys_params, as text:
    the warehouse casts them to the key's type). OR of ANDs: both dialects, any key shape."""
    if not count:
        return "FALSE"
    return "(" + " OR ".join(
        "(" + " AND ".join(f"{alias}.{quote_ident(k)} = %(deleted_{i}_{j})s" for j, k in enumerate(spec.primary_key)) + ")"
        for i in range(count)
    ) + ")"


def apply_deletes_sql(spec: TableSpec, count: int) -> str | None:
    """A whole table's keys the source no longer holds (found by the extract), under the table's
    delete policy: removed (hard), marked with when the read saw them gone (soft), or left (keep:
    None). A row a later read of the source wrote is left alone."""
    target = quote_table(spec.schema, spec.name)
    match = f"{_matches_deleted_keys(spec, target, count)} AND NOT {newer_row_sql(spec, target)}"
    if spec.deletes.kind == DeleteKind.HARD:
        return f"DELETE FROM {target} WHERE {match}"
    if spec.deletes.kind == DeleteKind.SOFT:
        column = quote_ident(spec.deletes.column)
        return f"UPDATE {target} SET {column} = %(read_at)s WHERE {column} IS NULL AND {match}"
    return None
