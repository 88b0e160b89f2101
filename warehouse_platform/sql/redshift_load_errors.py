"""Turning Redshift's COPY failures into errors a person can act on (secrets are kept out of
what we show by secrets.py).

Redshift records the rejected row in STL_LOAD_ERRORS (provisioned clusters) or
SYS_LOAD_ERROR_DETAIL (Serverless, and provisioned too); both are read on the session that ran
the COPY, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass

SYS_LOAD_ERROR_DETAIL_SQL = (
    "SELECT TRIM(file_name), line_number, TRIM(column_name), TRIM(error_message) "
    "FROM sys_load_error_detail WHERE session_id = pg_backend_pid() "
    "ORDER BY start_time DESC LIMIT 1"
)

STL_LOAD_ERRORS_SQL = (
    "SELECT TRIM(filename), line_number, TRIM(colname), TRIM(err_reason) "
    "FROM stl_load_errors WHERE query = pg_last_copy_id() "
    "ORDER BY starttime DESC LIMIT 1"
)


@dataclass(frozen=True)
class LoadErrorRow:
    file: str
    line: int | None
    column: str | None
    reason: str

    def __post_init__(self) -> None:
        # Redshift pads CHAR columns and reports "no column" as an empty name.
        object.__setattr__(self, "column", (self.column or "").strip() or None)
        object.__setattr__(self, "reason", (self.reason or "").strip())
