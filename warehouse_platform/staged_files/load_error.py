"""The one error a load raises for bad input: it names the table, the file, the line and the
column, whatever the engine or the stage said. Below the stage and the warehouse, so a landed
file's problem and a COPY failure read the same."""

from __future__ import annotations

from urllib.parse import unquote

from warehouse_platform.secrets import scrub


class LoadError(Exception):
    def __init__(self, table: str, file_url: str, line: int | None, column: str | None, reason: str) -> None:
        self.table, self.file_url, self.line, self.column, self.reason = table, file_url, line, column, reason
        where = f"line {line}" if line is not None else "file"
        if column:
            where += f", column {column}"
        # The engine's reason may quote a statement or a value; nothing secret leaves in it. The
        # file is shown unquoted: a person looks for day=2026-11-05/, not day%3D2026-11-05/.
        self.reason = scrub(reason)
        super().__init__(scrub(f"load of {table} failed at {unquote(file_url)} {where}: {reason}"))

    def at_file(self, file_url: str) -> LoadError:
        """The same failure, named at another file with the same lines (a landed file that a
        staged part carries byte for byte)."""
        return LoadError(self.table, file_url, self.line, self.column, self.reason)
