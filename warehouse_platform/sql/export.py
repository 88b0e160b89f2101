"""Exporting a warehouse query back to the stage: UNLOAD on Redshift, COPY ... TO STDOUT locally.

The seed's COPY TO options (delimiter, header, quote, encoding) are one ExportOptions for both;
Redshift's UNLOAD writes UTF-8 only and, in CSV format, always quotes with '"', so those two are
checked rather than silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from warehouse_platform.sql.quoting import quote_literal


@dataclass(frozen=True)
class ExportOptions:
    delimiter: str = ","
    header: bool = True
    quote: str = '"'
    encoding: str = "UTF8"

    def __post_init__(self) -> None:
        if len(self.delimiter) != 1 or len(self.quote) != 1:
            raise ValueError("delimiter and quote are single characters")


def copy_to_stdout_sql(select_sql: str, options: ExportOptions) -> str:
    return (
        f"COPY ({select_sql}) TO STDOUT WITH (FORMAT csv, HEADER {str(options.header).lower()}, "
        f"DELIMITER {quote_literal(options.delimiter)}, QUOTE {quote_literal(options.quote)}, "
        f"ENCODING {quote_literal(options.encoding)})"
    )


def unload_sql(select_sql: str, s3_prefix: str, iam_role_arn: str, options: ExportOptions, max_file_mb: int = 125) -> str:
    if options.encoding.upper().replace("-", "") != "UTF8":
        raise ValueError(f"UNLOAD writes UTF-8 only, not {options.encoding}")
    if options.quote != '"':
        raise ValueError("UNLOAD's CSV format always quotes with '\"'")
    lines = [
        f"UNLOAD ({quote_literal(select_sql)})",
        f"TO {quote_literal(s3_prefix)}",
        f"IAM_ROLE {quote_literal(iam_role_arn)}",
        "FORMAT AS CSV",
        f"DELIMITER AS {quote_literal(options.delimiter)}",
    ]
    if options.header:
        lines.append("HEADER")
    # A manifest (with record counts) like the one the stage writes, gzip parts of AWS's
    # advised size, and a re-run that overwrites its own earlier output.
    lines += ["GZIP", "MANIFEST VERBOSE", "ALLOWOVERWRITE", "PARALLEL ON", f"MAXFILESIZE {int(max_file_mb)} MB"]
    return "\n".join(lines)
