"""Load failures that name the table, file, line and column, whatever the engine said."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2

from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.staged_files.load_error import LoadError

# Postgres reports COPY failures in the error context: 'COPY stg_x, line 3, column amount: "abc"'
_COPY_CONTEXT = re.compile(r"COPY \S+, line (?P<line>\d+)(?:, column (?P<column>[^:]+))?")


_NOT_NULL_VIOLATION = "23502"


def describe_copy_error(error: psycopg2.Error, spec: TableSpec, file_url: str) -> LoadError:
    reason = (error.diag.message_primary or str(error)).strip()
    match = _COPY_CONTEXT.search(error.diag.context or "")
    line = int(match["line"]) if match else None
    column = match["column"].strip() if match and match["column"] else error.diag.column_name
    if error.pgcode == _NOT_NULL_VIOLATION and column:
        # The message would name an internal load table; say what it means for the data.
        kind = "NULL primary key" if column in spec.primary_key else "NULL in a NOT NULL column"
        reason = f"{kind} ({column})"
    return LoadError(spec.qualified_name, file_url, line, column, reason)


def connection_lost(error: BaseException, conn) -> bool:
    """The warehouse session is gone (backend terminated, server restarted, network cut), as
    opposed to bad data: libpq then closes the connection, whatever its message ("invalid
    socket", "server closed the connection unexpectedly")."""
    if isinstance(error, psycopg2.InterfaceError):
        return True
    return isinstance(error, psycopg2.OperationalError) and bool(conn is None or conn.closed)


class ConnectionLost(LoadError):
    def __init__(self, table: str, file_url: str, error: BaseException, while_committing: bool = False) -> None:
        said = (str(error).strip().splitlines() or [type(error).__name__])[0]
        outcome = (
            "it was lost while committing, so the load may or may not have committed; retry it: the load "
            "ledger loads each file once"
            if while_committing
            else "nothing was committed, so the load can be retried"
        )
        super().__init__(table, file_url, None, None, f"the connection to the warehouse was lost ({said}); {outcome}")


@contextmanager
def load_transaction(conn, table: str, file_url: str) -> Iterator[None]:
    """A load's transaction on `conn`: committed when the block ends, rolled back when it
    raises, and a lost connection reported as such, not as a bad file."""
    try:
        yield
    except BaseException as error:
        if not conn.closed:
            conn.rollback()
        if isinstance(error, psycopg2.Error) and connection_lost(error, conn):
            raise ConnectionLost(table, file_url, error) from None
        raise
    try:
        conn.commit()
    except psycopg2.Error as error:
        if connection_lost(error, conn):
            raise ConnectionLost(table, file_url, error, while_committing=True) from None
        raise
