"""The application's database, read-only from the platform's side."""


from collections.abc import Callable, Iterator, Sequence

import dagster as dg
from pydantic import Field, PrivateAttr

from warehouse_platform.lib import extract_sql, source_contract
from warehouse_platform.lib.source_contract import SourceColumn
from warehouse_platform.lib.table_spec import TableSpec
from warehouse_platform.postgres_endpoint import PostgresEndpoint, resolve_endpoint

DEFAULT_BATCH_ROWS = 50_000


class SourceDatabase(dg.ConfigurableResource):
    """A Postgres DSN, or the `app` database on the embedded server."""

    dsn: str | None = Field(default=None, repr=False)  # may carry a password
    embedded_data_dir: str | None = None
    database: str = "app"
    batch_rows: int = DEFAULT_BATCH_ROWS
    _endpoint: PostgresEndpoint | None = PrivateAttr(default=None)

    def endpoint(self) -> PostgresEndpoint:
        if self._endpoint is None:
            self._endpoint = resolve_endpoint(self.dsn, self.embedded_data_dir, self.database)
        return self._endpoint

    def stream(
        self, query: str, params: dict | None = None, check_columns: Callable[[list[str]], str | None] | None = None
    ) -> Iterator[Sequence[Sequence]]:
        """Yield the query's rows in batches through a server-side cursor, so no more than
        one batch is ever in memory. The connection lives exactly as long as the iteration.
        `check_columns` gets the cursor's column names before the first row is handed on and
        returns why they are wrong (the stream then raises ValueError with it), or None."""
        conn = self.endpoint().connect()
        try:
            # A named cursor is a server-side cursor in psycopg2.
            with conn.cursor(name="extract") as cur:
                cur.itersize = self.batch_rows
                cur.execute(query, params)
                rows = cur.fetchmany(self.batch_rows)  # a named cursor describes itself once fetched
                if check_columns and (problem := check_columns([d.name for d in cur.description])):
                    raise ValueError(problem)
                while rows:
                    yield rows
                    rows = cur.fetchmany(self.batch_rows)
        finally:
            conn.close()

    def query(self, sql: str, params: dict | None = None) -> list[tuple]:
        return self.endpoint().query(sql, params)

    def columns_of(self, spec: TableSpec) -> tuple[SourceColumn, ...]:
        """The columns the table's source has now: a source table's from information_schema, a
        declared query's from its cursor's description."""
        conn = self.endpoint().connect()
        try:
            with conn.cursor() as cur:
                if spec.source.table is not None:
                    schema, _, table = spec.source.table.rpartition(".")
                    cur.execute(source_contract.source_columns_sql(), {"schema": schema or "public", "table": table})
                    return tuple(SourceColumn(n, source_contract.warehouse_type(t, length)) for n, t, length in cur.fetchall())
                cur.execute(extract_sql.probe_columns_sql(spec))
                return source_contract.columns_from_description(cur.description)
        finally:
            conn.close()
