"""Quoting for identifiers and literals in generated SQL.

Identifiers are always quoted, never pasted: a table or column name from a spec or a landed
file name must not be able to change the statement. Values go through driver parameters
(%(name)s) wherever the statement allows them; COPY's S3 URL and IAM role are the exception
(Redshift does not take parameters there), so they go through `quote_literal`.
"""

from __future__ import annotations

from collections.abc import Iterable


def quote_ident(name: str) -> str:
    if not name or "\x00" in name:
        raise ValueError(f"invalid SQL identifier: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def quote_table(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"


def quote_idents(names: Iterable[str]) -> str:
    return ", ".join(quote_ident(n) for n in names)


def quote_literal(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL byte in SQL literal")
    # Redshift and Postgres (standard_conforming_strings=on) both read '' as one quote and
    # treat backslashes literally inside a plain '...' literal.
    return "'" + value.replace("'", "''") + "'"
