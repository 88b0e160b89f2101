"""The application's database, read-only from the platform's side."""

from collections.abc import Callable

import dagster as dg
from pydantic import Field, PrivateAttr

from warehouse_platform.contract import source_contract
from warehouse_platform.contract.source_contract import SourceColumn
from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.postgres_endpoint import PostgresEndpoint, resolve_endpoint
from warehouse_platform.sql import extract as extract_sql
from warehouse_platform.staged_files.row_batches import BytesSink, SnapshotFacts, SourceRead


class SourceDatabase(dg.ConfigurableResource):
    """A Postgres DSN, or the `app` database on the embedded server."""

    dsn: str | None = Field(default=None, repr=False)  # may carry a password
    embedded_data_dir: str | None = None
    database: str = "app"
    _endpoint: PostgresEndpoint | None = PrivateAttr(default=None)

    def endpoint(self) -> PostgresEndpoint:
        if self._endpoint is None:
            self._endpoint = resolve_endpoint(self.dsn, self.embedded_data_dir, self.database)
        return self._endpoint

    def copy_csv(
        self, query: str, params: dict | None, sink: BytesSink,
        after_snapshot: Callable[[Callable[[str, dict | None], list[tuple]]], SnapshotFacts] | None = None,
    ) -> SourceRead:
        """Write the query's rows into `sink` as CSV records with a header line, by the server's
        own `COPY (query) TO STDOUT` (no Python object per row), and say when the read was made.

        One repeatable-read, read-only transaction: its first statement fixes the snapshot and
        reads the source's clock (the read's stamp), then `after_snapshot` may query the same
        snapshot (it gets a query function) and the warehouse, and add parameters (the keys a
        day holds in the warehouse now, read after the snapshot so that every load the source's
        snapshot could predate is among them), then the COPY reads that snapshot.
        The connection lives as long as the copy."""
        conn = self.endpoint().connect()
        try:
            conn.set_session(readonly=True, isolation_level="REPEATABLE READ")
            with conn.cursor() as cur:
                cur.execute("SELECT clock_timestamp() AT TIME ZONE 'UTC'")
                read_at = cur.fetchone()[0]
                facts = SnapshotFacts({})
                if after_snapshot is not None:

                    def in_snapshot(sql: str, query_params: dict | None = None) -> list[tuple]:
                        cur.execute(sql, query_params)
                        return cur.fetchall()

                    facts = after_snapshot(in_snapshot)
                    params = {**(params or {}), **facts.params}
                statement = cur.mogrify(query, params).decode("utf-8")
                cur.copy_expert(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv, HEADER)", sink, size=1 << 20)
            conn.rollback()
        finally:
            conn.close()
        return SourceRead(read_at, facts.held_load_ids, facts.deleted_keys)

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
                    return tuple(source_contract.source_column(row) for row in cur.fetchall())
                cur.execute(extract_sql.probe_columns_sql(spec))
                description = cur.description
                # Enums, composites and arrays of them have OIDs of the database's own: ask what they are.
                cur.execute(source_contract.type_kinds_sql(), {"oids": [d[1] for d in description]})
                return source_contract.columns_from_description(description, dict(cur.fetchall()))
        finally:
            conn.close()
