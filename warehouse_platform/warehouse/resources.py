"""The warehouse: Postgres locally (embedded or any DSN), Redshift in production.

Everything both share is on `Warehouse`; the two subclasses differ only where the engines do:
how staged files reach the staging table (streamed through the client vs. Redshift reading the
manifest from S3), the DDL dialect, and how dbt connects.
"""


import gzip
import hashlib
import json
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Literal

import dagster as dg
import psycopg2
import psycopg2.extensions
from isal import igzip
from pydantic import Field, PrivateAttr

from warehouse_platform import secrets
from warehouse_platform.contract import source_contract
from warehouse_platform.contract.table_spec import Column, LoadMode, TableSpec
from warehouse_platform.postgres_endpoint import PostgresEndpoint, resolve_endpoint
from warehouse_platform.settings import EMBEDDED_WAREHOUSE_DATABASE
from warehouse_platform.sql import ddl as ddl_builder
from warehouse_platform.sql import load as load_sql_builder
from warehouse_platform.sql import parity as parity_sql
from warehouse_platform.sql import partition_swap as partition_swap_sql
from warehouse_platform.sql import quality as quality_sql
from warehouse_platform.sql import redshift_load_errors
from warehouse_platform.sql.export import (
    ExportOptions,
    copy_to_stdout_sql,
    unload_sql,
)
from warehouse_platform.stage.storage import Stage, StagedObjectMissing
from warehouse_platform.staged_files.load_error import LoadError
from warehouse_platform.staged_files.manifest import StagedBatch, StagedPart
from warehouse_platform.staged_files.part_writer import DEFAULT_COMPRESSLEVEL, HashingWriter
from warehouse_platform.warehouse import ledger
from warehouse_platform.warehouse.load_errors import (
    ConnectionLost,
    connection_lost,
    describe_copy_error,
    load_transaction,
)
from warehouse_platform.warehouse.load_request import LoadOutcome, LoadRequest
from warehouse_platform.warehouse.partition_swap_load import (
    load_by_partition_swap,
    sweep_abandoned_load_tables,
)
from warehouse_platform.warehouse.staging_load import load_through_staging


@contextmanager
def _staged_part(spec: TableSpec, part: StagedPart, stage: Stage) -> Iterator[BinaryIO]:
    """A staged part opened for COPY; a part deleted since it was staged is a load error that
    says what fixes it (its manifest and checksum live in the batch, its bytes do not)."""
    try:
        with stage.open_binary(stage.key_for(part.url)) as raw:
            yield raw
    except StagedObjectMissing:
        raise LoadError(spec.qualified_name, part.url, None, None, "staged part missing: re-stage the day") from None


class _ChecksumReader:
    """Hashes the staged bytes as COPY streams them, so a file changed after staging (its
    checksum is what the ledger records) is caught, not loaded."""

    def __init__(self, raw) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.sha256.update(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> str:
        while self.read(1 << 20):
            pass
        return self.sha256.hexdigest()


class Warehouse(dg.ConfigurableResource, ABC):
    # Slices the data spreads over: the cluster's, on Redshift; emulated locally.
    slice_count: int = 4

    @property
    @abstractmethod
    def dialect(self) -> Literal["postgres", "redshift"]: ...

    @abstractmethod
    def _connect(self) -> psycopg2.extensions.connection: ...

    @abstractmethod
    def copy_into_staging(self, cursor, spec: TableSpec, batch: StagedBatch, stage: Stage) -> str:
        """Fill the load's staging table with every part of `batch`; returns the COPY that ran
        (credentials scrubbed), for run metadata."""

    @abstractmethod
    def dbt_environment(self) -> dict[str, str]:
        """Variables the dbt profile reads to reach this same warehouse."""

    @abstractmethod
    def describe(self) -> str:
        """Where this warehouse is, for logs and metadata (no credentials)."""

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    def connect_autocommit(self) -> psycopg2.extensions.connection:
        """A connection for statements that are their own transaction; the caller closes it."""
        conn = self._connect()
        conn.autocommit = True
        return conn

    def sweep_abandoned_loads(self, schema: str, table: str | None = None) -> list[str]:
        """Drop what killed loads left behind in `schema` (of `table` only, if given); returns
        what was dropped. Nothing by default: a staging table is temporary and ends with its
        session, however the load ended."""
        return []

    def lock_ddl(self, cursor) -> None:
        """Serialize this transaction's CREATE ... IF NOT EXISTS with other loads' (which is not
        safe under concurrency on its own). Nothing to do where the engine serializes DDL."""

    def ensure_schemas(self) -> None:
        with self.connection() as conn, conn.cursor() as cur:
            self.lock_ddl(cur)
            for schema in ddl_builder.WAREHOUSE_SCHEMAS:
                cur.execute(ddl_builder.create_schema_sql(schema))
            cur.execute(ddl_builder.create_ledger_sql("raw_data"))
            conn.commit()

    def ensure_table(self, spec: TableSpec, added: Sequence[str] = (), run_id: str = "") -> None:
        """The table exists with every column of `spec`. `added`: the columns of `spec` the
        platform added (on_new_column: add, not declared); they are recorded as part of the
        table's contract in the same transaction as the ALTER that adds them."""
        with self.connection() as conn, conn.cursor() as cur:
            self.lock_ddl(cur)
            cur.execute(ddl_builder.create_schema_sql(spec.schema))
            cur.execute(ddl_builder.create_ledger_sql(spec.schema))
            cur.execute(ddl_builder.create_added_columns_sql(spec.schema))
            if self.dialect == "postgres":
                cur.execute(ddl_builder.upgrade_ledger_sql(spec.schema))
            cur.execute(ddl_builder.create_table_sql(spec, self.dialect))
            schemas = [spec.schema]
            if spec.key_window_days:
                for statement in ddl_builder.create_held_back_table_sql(spec, self.dialect):
                    cur.execute(statement)
                schemas.append(ddl_builder.held_back_schema(spec))
            cur.execute(ddl_builder.added_columns_sql(spec.schema), {"table": spec.qualified_name})
            recorded = {name for name, _ in cur.fetchall()}
            # A table created before the source gained columns (on_new_column: add), or before the
            # catalog declared more, gains them (its held-back copies' table too).
            for schema in schemas:
                cur.execute(ddl_builder.table_columns_sql(), {"schema": schema, "table": spec.name})
                present = {name for (name,) in cur.fetchall()}
                for column in spec.columns:
                    params = {"table": spec.qualified_name, "column": column.name}
                    if column.name not in present:
                        cur.execute(ddl_builder.add_column_sql(spec, column, self.dialect, schema))
                        if schema == spec.schema:
                            cur.execute(ddl_builder.forget_added_column_sql(spec.schema), params)
                            recorded.discard(column.name)
                    # Recorded also when the table already had it: a column added before the
                    # platform kept the record joins the contract at its next load.
                    if schema == spec.schema and column.name in added and column.name not in recorded:
                        cur.execute(ddl_builder.record_added_column_sql(spec.schema), {
                            **params, "sql_type": column.sql_type, "run_id": run_id,
                            "added_at": datetime.now(timezone.utc).replace(tzinfo=None),
                        })
            conn.commit()

    def added_columns(self, spec: TableSpec) -> tuple[Column, ...]:
        """The columns the platform added to the table (on_new_column: add) that are part of its
        contract now (source_contract.kept_added_columns); none before the table exists. Two
        plain queries, not a join: Redshift refuses a query joining its catalog (leader node)
        with a table (compute nodes)."""
        [(kept,)] = self.query(parity_sql.table_exists_sql(), {"schema": spec.schema, "table": ddl_builder.ADDED_COLUMNS_TABLE})
        if not kept:
            return ()
        recorded = self.query(ddl_builder.added_columns_sql(spec.schema), {"table": spec.qualified_name})
        if not recorded:
            return ()
        present = [name for (name,) in self.query(ddl_builder.table_columns_sql(), {"schema": spec.schema, "table": spec.name})]
        return source_contract.kept_added_columns(spec, recorded, present)

    def table_exists(self, spec: TableSpec) -> bool:
        [(found,)] = self.query(parity_sql.table_exists_sql(), {"schema": spec.schema, "table": spec.name})
        return bool(found)

    def loaded_days(self, spec: TableSpec) -> set[str]:
        """The partition keys of the days a load has filled (empty days included)."""
        if not self.table_exists(spec):
            return set()
        return {day for (day,) in self.query(load_sql_builder.ledger_loaded_days_sql(spec.schema), {"table_name": spec.qualified_name})}

    def newest_loaded_cursor(self, spec: TableSpec):
        """The newest cursor value (e.g. updated_at) a whole-table incremental table holds; None
        before its first load."""
        if not self.table_exists(spec):
            return None
        return self.query(parity_sql.newest_loaded_cursor_sql(spec))[0][0]

    def keys_in_day(self, spec: TableSpec, day) -> list[tuple]:
        """The keys a day of a daily table holds now, each followed by the load id that wrote
        it (none before the table exists)."""
        if not self.table_exists(spec):
            return []
        return self.query(load_sql_builder.day_keys_sql(spec), {"partition_date": day})

    def query(self, sql: str, params: dict | tuple | None = None) -> list[tuple]:
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def rows_per_slice(self, spec: TableSpec, column: str) -> tuple[int, ...]:
        """Rows each slice holds (or would hold) with `column` as the DISTKEY: hashed over
        `slice_count` slices in SQL, so the answer is a property of the data."""
        counts = dict(self.query(quality_sql.rows_per_slice_sql(spec, column, self.slice_count, self.dialect)))
        return tuple(int(counts.get(i, 0)) for i in range(self.slice_count))

    def reported_skew(self, spec: TableSpec) -> float | None:
        """The engine's own skew figure for the table, where it keeps one."""
        return None

    def load_batch(self, stage: Stage, request: LoadRequest) -> LoadOutcome:
        """Put the batch's rows in the table; see warehouse/loader.py for the guarantees."""
        return load_through_staging(self, stage, request)

    def prepare_load_target(self, cursor, request: LoadRequest) -> None:
        """Whatever the target needs before a staging-table load inserts into it; nothing where
        the engine has no partitions."""

    def refresh_statistics(self, request: LoadRequest) -> None:
        """After a load that changed the table: whatever the engine needs for its planner to
        know the new rows. Nothing by default: Redshift's automatic analyze keeps its tables'
        statistics, and its COPY updates the staging table's."""

    def describe_loaded(self, request: LoadRequest) -> LoadOutcome:
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(load_sql_builder.count_partition_rows_sql(request.spec), request.params)
            partition_rows = cur.fetchone()[0]
            cur.execute(load_sql_builder.count_table_rows_sql(request.spec))
            table_rows = cur.fetchone()[0]
            holds = ledger.active_checksums(cur, request.spec, request.partition_key) == request.batch.checksums
            return LoadOutcome(True, partition_rows=partition_rows, table_rows=table_rows, day_holds_batch=holds)

    @abstractmethod
    def export_query(self, name: str, select_sql: str, stage: Stage, prefix: str, options: ExportOptions) -> tuple[StagedBatch, str]:
        """Write the query's result under `prefix` in the stage as gzip CSV with a manifest;
        returns the batch and the statement that produced it (for metadata)."""

    def _columns_of(self, select_sql: str) -> tuple[str, ...]:
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(f"SELECT * FROM ({select_sql}) export_query LIMIT 0")
            return tuple(c.name for c in cur.description)


class PostgresWarehouse(Warehouse):
    """Local default: a database on the embedded server, or any Postgres 15+ given by DSN."""

    dsn: str | None = Field(default=None, repr=False)  # may carry a password
    embedded_data_dir: str | None = None
    database: str = EMBEDDED_WAREHOUSE_DATABASE
    # Connections COPYing parts at once; Postgres parses each COPY on one core.
    max_parallel_copies: int = max(2, os.cpu_count() or 2)
    # How day tables (replace, upsert) load: "swap" builds the day in a table of its own and
    # swaps it in (the local default, and the fastest); "staging" is Redshift's path (a staging
    # table, then DELETE and INSERT in the target, in one transaction), so Redshift's load SQL
    # runs for real here: the tests of both paths choose it.
    day_load_path: Literal["swap", "staging"] = "swap"
    _endpoint: PostgresEndpoint | None = PrivateAttr(default=None)

    @property
    def dialect(self) -> Literal["postgres"]:
        return "postgres"

    def lock_ddl(self, cursor) -> None:
        # Concurrent "CREATE SCHEMA IF NOT EXISTS" can still fail with a unique violation in
        # Postgres; a transaction-scoped advisory lock makes the DDL one-at-a-time.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('warehouse_platform.ddl'))")

    def endpoint(self) -> PostgresEndpoint:
        if self._endpoint is None:
            self._endpoint = resolve_endpoint(self.dsn, self.embedded_data_dir, self.database)
        return self._endpoint

    def _connect(self) -> psycopg2.extensions.connection:
        return self.endpoint().connect()

    def load_batch(self, stage: Stage, request: LoadRequest) -> LoadOutcome:
        spec = request.spec
        if spec.partitioned and spec.mode in (LoadMode.REPLACE, LoadMode.UPSERT) and self.day_load_path == "swap":
            return load_by_partition_swap(self, stage, request)
        return load_through_staging(self, stage, request)

    def prepare_load_target(self, cursor, request: LoadRequest) -> None:
        # A daily table is partitioned locally: the days a staging-table load inserts into (its
        # own; for a table whose keys move, every staged row's) need their partitions.
        if request.spec.partitioned:
            days = {request.partition_date}
            if request.spec.moves_between_days:
                cursor.execute(load_sql_builder.staged_row_days_sql(request.spec))
                days |= {day for (day,) in cursor.fetchall()}
            self.lock_ddl(cursor)
            for day in sorted(days):
                for statement in partition_swap_sql.create_day_partition_sql(request.spec, day):
                    cursor.execute(statement)

    def refresh_statistics(self, request: LoadRequest) -> None:
        # After the load's commit, outside its locks: ANALYZE takes a lock of its own that
        # readers do not wait for, and the day's partition exists under its final name by now.
        spec = request.spec
        conn = self.connect_autocommit()
        try:
            parent_only = conn.server_version >= 180000
            with conn.cursor() as cur:
                day = request.partition_date if spec.partitioned else None
                for statement in partition_swap_sql.planner_statistics_sql(spec, day, parent_only):
                    cur.execute(statement)
        finally:
            conn.close()

    def sweep_abandoned_loads(self, schema: str, table: str | None = None) -> list[str]:
        return sweep_abandoned_load_tables(self, schema, table)

    def _copy_part(self, cursor, sql: str, spec: TableSpec, part: StagedPart, stage: Stage) -> int:
        with _staged_part(spec, part, stage) as raw:
            reader = _ChecksumReader(raw)
            try:
                # ISA-L's gzip reader: twice zlib's speed, the same errors (BadGzipFile, EOFError).
                with igzip.IGzipFile(fileobj=reader, mode="rb") as csv_stream:
                    cursor.copy_expert(sql, csv_stream, size=1 << 20)
                copied = cursor.rowcount
                digest = reader.drain()
            except psycopg2.Error as error:
                # A killed session fails COPY too ("invalid socket"): that is not the file's fault.
                if connection_lost(error, cursor.connection):
                    raise ConnectionLost(spec.qualified_name, part.url, error) from None
                raise describe_copy_error(error, spec, part.url) from None
            except (OSError, EOFError) as error:  # not gzip, truncated
                if cursor.connection.closed:
                    raise ConnectionLost(spec.qualified_name, part.url, error) from None
                raise LoadError(spec.qualified_name, part.url, None, None, f"unreadable file: {error}") from None
        if digest != part.sha256:
            raise LoadError(
                spec.qualified_name, part.url, None, None,
                "file changed after it was staged (checksum differs from the manifest); stage it again",
            )
        return copied

    def copy_into_staging(self, cursor, spec: TableSpec, batch: StagedBatch, stage: Stage) -> str:
        sql = load_sql_builder.copy_from_stdin_sql(spec, columns=tuple(batch.columns))
        for part in batch.parts:
            self._copy_part(cursor, sql, spec, part, stage)
        return sql

    def copy_in_parallel(self, target: str, spec: TableSpec, batch: StagedBatch, stage: Stage) -> tuple[int, str]:
        """COPY the parts into `target` over several connections, each committing its share;
        returns the rows copied and the COPY each part ran. Only for tables no reader can see
        yet (the swap's new table)."""
        sql = load_sql_builder.copy_from_stdin_sql(spec, target, tuple(batch.columns))
        workers = max(1, min(self.max_parallel_copies, len(batch.parts)))
        shares = [batch.parts[i::workers] for i in range(workers)]

        def copy_share(parts: tuple[StagedPart, ...]) -> int:
            with self.connection() as conn, load_transaction(conn, spec.qualified_name, batch.manifest_url):
                with conn.cursor() as cur:
                    return sum(self._copy_part(cur, sql, spec, part, stage) for part in parts)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="copy") as pool:
            futures = [pool.submit(copy_share, share) for share in shares]
            # The first failure propagates; the caller drops the table.
            return sum(future.result() for future in futures), sql

    def export_query(self, name: str, select_sql: str, stage: Stage, prefix: str, options: ExportOptions) -> tuple[StagedBatch, str]:
        sql = copy_to_stdout_sql(select_sql, options)
        key = f"{prefix}/part-00000.csv.gz"
        with tempfile.TemporaryDirectory(prefix="export-") as scratch:
            path = Path(scratch) / "part-00000.csv.gz"
            raw = HashingWriter(path)
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=DEFAULT_COMPRESSLEVEL, mtime=0) as compressed:
                with self.connection() as conn, conn.cursor() as cur:
                    cur.copy_expert(sql, compressed, size=1 << 20)
                    rows = cur.rowcount
            raw.close()
            stage.put_file(path, key)
        part = StagedPart(stage.url_for(key), rows, raw.size, raw.sha256.hexdigest())
        batch = StagedBatch(name, None, self._columns_of(select_sql), (part,), stage.url_for(f"{prefix}/manifest.json"))
        stage.write_text(f"{prefix}/manifest.json", batch.to_manifest_json())
        return batch, sql

    def dbt_environment(self) -> dict[str, str]:
        e = self.endpoint()
        return {
            "PLATFORM_DBT_PG_HOST": e.host,
            "PLATFORM_DBT_PG_PORT": str(e.port),
            "PLATFORM_DBT_PG_USER": e.user,
            "PLATFORM_DBT_PG_PASSWORD": e.password,
            "PLATFORM_DBT_PG_DBNAME": e.dbname,
        }

    def describe(self) -> str:
        return self.endpoint().describe()


class RedshiftWarehouse(Warehouse):
    """Production: Amazon Redshift, loading from the S3 stage with an IAM role (never keys)."""

    host: str
    port: int = 5439
    database: str
    user: str
    password: str = Field(repr=False)
    iam_role_arn: str
    region: str | None = None
    sslmode: str = "require"

    @property
    def dialect(self) -> Literal["redshift"]:
        return "redshift"

    def _connect(self) -> psycopg2.extensions.connection:
        with secrets.secrets_scrubbed():
            return psycopg2.connect(
                host=self.host, port=self.port, dbname=self.database, user=self.user, password=self.password,
                sslmode=self.sslmode, connect_timeout=10,
            )

    def copy_into_staging(self, cursor, spec: TableSpec, batch: StagedBatch, stage: Stage) -> None:
        if not batch.manifest_url.startswith("s3://"):
            raise ValueError(f"Redshift loads from S3 only; {spec.qualified_name} is staged at {batch.manifest_url}")
        sql = load_sql_builder.copy_from_s3_manifest_sql(
            spec, batch.manifest_url, self.iam_role_arn, self.region, tuple(batch.columns)
        )
        try:
            cursor.execute(sql)
        except psycopg2.Error as error:
            raise self._explain_copy_failure(cursor, spec, batch, error) from None
        return secrets.scrub(sql)

    def _explain_copy_failure(self, cursor, spec: TableSpec, batch: StagedBatch, error: psycopg2.Error) -> LoadError:
        """Redshift only says "Check 'stl_load_errors'"; read that (or, on Serverless,
        SYS_LOAD_ERROR_DETAIL) on the same session and name the file, line and column."""
        if connection_lost(error, cursor.connection):
            return ConnectionLost(spec.qualified_name, batch.manifest_url, error)
        cursor.connection.rollback()  # the failed transaction cannot be queried; the session can
        for sql in (redshift_load_errors.SYS_LOAD_ERROR_DETAIL_SQL, redshift_load_errors.STL_LOAD_ERRORS_SQL):
            try:
                cursor.execute(sql)
                row = cursor.fetchone()
            except psycopg2.Error:
                cursor.connection.rollback()  # view not available on this deployment type
                continue
            if row:
                detail = redshift_load_errors.LoadErrorRow(*row)
                return LoadError(spec.qualified_name, detail.file, detail.line, detail.column, detail.reason)
        return LoadError(spec.qualified_name, batch.manifest_url, None, None, (error.diag.message_primary or str(error)).strip())

    def rows_per_slice(self, spec: TableSpec, column: str) -> tuple[int, ...]:
        """The current DISTKEY: what the slices really hold (STV_TBL_PERM). Other columns:
        hashed, as locally, since Redshift only distributes by the key it has."""
        if column != spec.dist_key:
            return super().rows_per_slice(spec, column)
        rows = self.query(quality_sql.REDSHIFT_ROWS_PER_SLICE_SQL, {"schema": spec.schema, "table": spec.name})
        return tuple(int(n) for _, n in rows)

    def reported_skew(self, spec: TableSpec) -> float | None:
        rows = self.query(quality_sql.REDSHIFT_TABLE_INFO_SQL, {"schema": spec.schema, "table": spec.name})
        # Empty for an empty table; NULL skew_rows for EVEN/ALL tables.
        return float(rows[0][1]) if rows and rows[0][1] is not None else None

    def export_query(self, name: str, select_sql: str, stage: Stage, prefix: str, options: ExportOptions) -> tuple[StagedBatch, str]:
        sql = unload_sql(select_sql, stage.url_for(f"{prefix}/part_"), self.iam_role_arn, options)
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(sql)
            conn.commit()
        # UNLOAD ... MANIFEST VERBOSE writes <prefix>/part_manifest with each file's record count.
        manifest = json.loads(stage.read_text(f"{prefix}/part_manifest"))
        parts = tuple(
            StagedPart(e["url"], int(e["meta"]["record_count"]), int(e["meta"]["content_length"]), "")
            for e in manifest["entries"]
        )
        columns = tuple(c["name"] for c in manifest.get("schema", {}).get("elements", []))
        return StagedBatch(name, None, columns, parts, stage.url_for(f"{prefix}/part_manifest")), sql

    def dbt_environment(self) -> dict[str, str]:
        # The prod profile reads REDSHIFT_* itself; nothing to hand over.
        return {}

    def describe(self) -> str:
        return f"redshift://{self.user}@{self.host}:{self.port}/{self.database}"
