"""The warehouse: Postgres locally (embedded or any DSN), Redshift in production.

Everything both share is on `Warehouse`; the two subclasses differ only where the engines do:
how staged files reach the staging table (streamed through the client vs. Redshift reading the
manifest from S3), the DDL dialect, and how dbt connects.
"""


import gzip
import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Literal

import dagster as dg
import psycopg2
import psycopg2.extensions
from pydantic import PrivateAttr

from warehouse_platform.lib import ddl_builder, load_sql_builder, redshift_load_errors
from warehouse_platform.lib.staged_files import StagedBatch, StagedPart
from warehouse_platform.lib.table_spec import LoadMode, TableSpec
from warehouse_platform.postgres_endpoint import PostgresEndpoint, resolve_endpoint
from warehouse_platform.stage.storage import Stage
from warehouse_platform.warehouse.load_errors import LoadError, describe_copy_error
from warehouse_platform.warehouse.load_request import LoadOutcome, LoadRequest
from warehouse_platform.warehouse.partition_swap_load import load_by_partition_swap
from warehouse_platform.warehouse.staging_load import load_through_staging


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

    def drain(self) -> str:
        while self.read(1 << 20):
            pass
        return self.sha256.hexdigest()


class Warehouse(dg.ConfigurableResource, ABC):
    @property
    @abstractmethod
    def dialect(self) -> Literal["postgres", "redshift"]: ...

    @abstractmethod
    def _connect(self) -> psycopg2.extensions.connection: ...

    @abstractmethod
    def copy_into_staging(self, cursor, spec: TableSpec, batch: StagedBatch, stage: Stage) -> None:
        """Fill the load's staging table with every part of `batch`."""

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

    def ensure_schemas(self) -> None:
        with self.connection() as conn, conn.cursor() as cur:
            for schema in ddl_builder.WAREHOUSE_SCHEMAS:
                cur.execute(ddl_builder.create_schema_sql(schema))
            cur.execute(ddl_builder.create_ledger_sql("raw_data"))
            conn.commit()

    def ensure_table(self, spec: TableSpec) -> None:
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(ddl_builder.create_schema_sql(spec.schema))
            cur.execute(ddl_builder.create_ledger_sql(spec.schema))
            cur.execute(ddl_builder.create_table_sql(spec, self.dialect))
            conn.commit()

    def query(self, sql: str, params: dict | tuple | None = None) -> list[tuple]:
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def load_batch(self, stage: Stage, request: LoadRequest) -> LoadOutcome:
        """Put the batch's rows in the table; see warehouse/loader.py for the guarantees."""
        return load_through_staging(self, stage, request)

    def describe_loaded(self, request: LoadRequest) -> LoadOutcome:
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(load_sql_builder.count_partition_rows_sql(request.spec), request.params)
            partition_rows = cur.fetchone()[0]
            cur.execute(load_sql_builder.count_table_rows_sql(request.spec))
            return LoadOutcome(True, partition_rows=partition_rows, table_rows=cur.fetchone()[0])

    @abstractmethod
    def copy_statement_for_display(self, spec: TableSpec, batch: StagedBatch) -> str:
        """The COPY as it ran, with anything secret redacted, for run metadata."""


class PostgresWarehouse(Warehouse):
    """Local default: a database on the embedded server, or any Postgres 15+ given by DSN."""

    dsn: str | None = None
    embedded_data_dir: str | None = None
    database: str = "warehouse"
    # Connections COPYing parts at once; Postgres parses each COPY on one core.
    max_parallel_copies: int = max(2, os.cpu_count() or 2)
    _endpoint: PostgresEndpoint | None = PrivateAttr(default=None)

    @property
    def dialect(self) -> Literal["postgres"]:
        return "postgres"

    def endpoint(self) -> PostgresEndpoint:
        if self._endpoint is None:
            self._endpoint = resolve_endpoint(self.dsn, self.embedded_data_dir, self.database)
        return self._endpoint

    def _connect(self) -> psycopg2.extensions.connection:
        return self.endpoint().connect()

    def load_batch(self, stage: Stage, request: LoadRequest) -> LoadOutcome:
        if request.spec.partitioned and request.spec.mode in (LoadMode.REPLACE, LoadMode.UPSERT):
            return load_by_partition_swap(self, stage, request)
        return load_through_staging(self, stage, request)

    def _copy_part(self, cursor, sql: str, spec: TableSpec, part: StagedPart, stage: Stage) -> None:
        with stage.open_binary(stage.key_for(part.url)) as raw:
            reader = _ChecksumReader(raw)
            try:
                with gzip.GzipFile(fileobj=reader, mode="rb") as csv_stream:
                    cursor.copy_expert(sql, csv_stream, size=1 << 20)
                digest = reader.drain()
            except psycopg2.Error as error:
                raise describe_copy_error(error, spec, part.url) from None
            except (OSError, EOFError) as error:  # not gzip, truncated
                raise LoadError(spec.qualified_name, part.url, None, None, f"unreadable file: {error}") from None
        if digest != part.sha256:
            raise LoadError(
                spec.qualified_name, part.url, None, None,
                "file changed after it was staged (checksum differs from the manifest); stage it again",
            )

    def copy_into_staging(self, cursor, spec: TableSpec, batch: StagedBatch, stage: Stage) -> None:
        sql = load_sql_builder.copy_from_stdin_sql(spec)
        for part in batch.parts:
            self._copy_part(cursor, sql, spec, part, stage)

    def copy_in_parallel(self, target: str, spec: TableSpec, batch: StagedBatch, stage: Stage) -> None:
        """COPY the parts into `target` over several connections, each committing its share.
        Only for tables no reader can see yet (the partition swap's new table)."""
        sql = load_sql_builder.copy_from_stdin_sql(spec, target)
        workers = max(1, min(self.max_parallel_copies, len(batch.parts)))
        shares = [batch.parts[i::workers] for i in range(workers)]

        def copy_share(parts: tuple[StagedPart, ...]) -> None:
            conn = self._connect()
            try:
                with conn.cursor() as cur:
                    for part in parts:
                        self._copy_part(cur, sql, spec, part, stage)
                conn.commit()
            finally:
                conn.close()

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="copy") as pool:
            for future in [pool.submit(copy_share, share) for share in shares]:
                future.result()  # the first failure propagates; the caller drops the table

    def copy_statement_for_display(self, spec: TableSpec, batch: StagedBatch) -> str:
        return load_sql_builder.copy_from_stdin_sql(spec)

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
    password: str
    iam_role_arn: str
    region: str | None = None
    sslmode: str = "require"

    @property
    def dialect(self) -> Literal["redshift"]:
        return "redshift"

    def _connect(self) -> psycopg2.extensions.connection:
        return psycopg2.connect(
            host=self.host, port=self.port, dbname=self.database, user=self.user, password=self.password,
            sslmode=self.sslmode, connect_timeout=10,
        )

    def copy_into_staging(self, cursor, spec: TableSpec, batch: StagedBatch, stage: Stage) -> None:
        if not batch.manifest_url.startswith("s3://"):
            raise ValueError(f"Redshift loads from S3 only; {spec.qualified_name} is staged at {batch.manifest_url}")
        sql = load_sql_builder.copy_from_s3_manifest_sql(spec, batch.manifest_url, self.iam_role_arn, self.region)
        try:
            cursor.execute(sql)
        except psycopg2.Error as error:
            raise self._explain_copy_failure(cursor, spec, batch, error) from None

    def _explain_copy_failure(self, cursor, spec: TableSpec, batch: StagedBatch, error: psycopg2.Error) -> LoadError:
        """Redshift only says "Check 'stl_load_errors'"; read that (or, on Serverless,
        SYS_LOAD_ERROR_DETAIL) on the same session and name the file, line and column."""
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

    def copy_statement_for_display(self, spec: TableSpec, batch: StagedBatch) -> str:
        return redshift_load_errors.redact_credentials(
            load_sql_builder.copy_from_s3_manifest_sql(spec, batch.manifest_url, self.iam_role_arn, self.region)
        )

    def dbt_environment(self) -> dict[str, str]:
        # The prod profile reads REDSHIFT_* itself; nothing to hand over.
        return {}

    def describe(self) -> str:
        return f"redshift://{self.user}@{self.host}:{self.port}/{self.database}"
