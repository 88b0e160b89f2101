"""The application's database, read-only from the platform's side."""


from collections.abc import Iterator, Sequence

import dagster as dg
from pydantic import Field, PrivateAttr

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

    def stream(self, query: str, params: dict | None = None) -> Iterator[Sequence[Sequence]]:
        """Yield the query's rows in batches through a server-side cursor, so no more than
        one batch is ever in memory. The connection lives exactly as long as the iteration."""
        conn = self.endpoint().connect()
        try:
            # A named cursor is a server-side cursor in psycopg2.
            with conn.cursor(name="extract") as cur:
                cur.itersize = self.batch_rows
                cur.execute(query, params)
                while rows := cur.fetchmany(self.batch_rows):
                    yield rows
        finally:
            conn.close()
