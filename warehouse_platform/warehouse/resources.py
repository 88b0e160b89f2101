"""The warehouse: Postgres locally (embedded or any DSN), Redshift in production.

Everything both share is on `Warehouse`; the two subclasses differ only where the engines do:
how staged files reach the staging table (streamed through the client vs. Redshift reading the
manifest from S3), the DDL dialect, and how dbt connects.
"""


import gzip
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import dagster as dg
import psycopg2
import psycopg2.extensions
from pydantic import PrivateAttr

from warehouse_platform.lib import ddl_builder, load_sql_builder
from warehouse_platform.lib.staged_files import StagedBatch
from warehouse_platform.lib.table_spec import TableSpec
from warehouse_platform.postgres_endpoint import PostgresEndpoint, resolve_endpoint
from warehouse_platform.stage.storage import Stage
from warehouse_platform.warehouse.load_errors import LoadError, describe_copy_error


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


class PostgresWarehouse(Warehouse):
    """Local default: a database on the embedded server, or any Postgres 15+ given by DSN."""

    dsn: str | None = None
    embedded_data_dir: str | None = None
    database: str = "warehouse"
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

    def copy_into_staging(self, cursor, spec: TableSpec, batch: StagedBatch, stage: Stage) -> None:
        sql = load_sql_builder.copy_from_stdin_sql(spec)
        for part in batch.parts:
            key = stage.key_for(part.url)
            with stage.open_binary(key) as raw, gzip.GzipFile(fileobj=raw, mode="rb") as csv_stream:
                try:
                    cursor.copy_expert(sql, csv_stream, size=1 << 20)
                except psycopg2.Error as error:
                    raise describe_copy_error(error, spec, part.url) from None
                except (OSError, EOFError) as error:  # not gzip, truncated
                    raise LoadError(spec.qualified_name, part.url, None, None, f"unreadable file: {error}") from None

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
            raise describe_copy_error(error, spec, batch.manifest_url) from None

    def dbt_environment(self) -> dict[str, str]:
        # The prod profile reads REDSHIFT_* itself; nothing to hand over.
        return {}

    def describe(self) -> str:
        return f"redshift://{self.user}@{self.host}:{self.port}/{self.database}"
