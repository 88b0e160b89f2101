"""Rows from files other systems dropped under landing/, read for staging like extracted rows."""

import csv
import gzip
import io
from collections.abc import Iterator, Sequence

from warehouse_platform.lib.table_spec import TableSpec
from warehouse_platform.stage.storage import Stage
from warehouse_platform.warehouse.load_errors import LoadError

BATCH_ROWS = 50_000


def read_landed_rows(stage: Stage, keys: Sequence[str], spec: TableSpec) -> Iterator[list[tuple]]:
    """Yield the files' rows in batches; the header must name the table's columns in order.
    An empty field is NULL, as in the platform's own files."""
    batch: list[tuple] = []
    for key in keys:
        url = stage.url_for(key)
        with stage.open_binary(key) as raw:
            binary = gzip.GzipFile(fileobj=raw, mode="rb") if key.endswith(".gz") else raw
            text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
            reader = csv.reader(text)
            try:
                header = next(reader, None)
                if header is None:
                    raise LoadError(spec.qualified_name, url, None, None, "empty file: no header row")
                if [h.strip() for h in header] != list(spec.column_names):
                    raise LoadError(
                        spec.qualified_name, url, 1, None,
                        f"header {header} does not match the table's columns {list(spec.column_names)}",
                    )
                width = len(spec.column_names)
                for row in reader:
                    if len(row) != width:
                        raise LoadError(
                            spec.qualified_name, url, reader.line_num, None,
                            f"{len(row)} fields where the table has {width} columns",
                        )
                    batch.append(tuple(v if v != "" else None for v in row))
                    if len(batch) >= BATCH_ROWS:
                        yield batch
                        batch = []
            except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, csv.Error) as error:
                raise LoadError(spec.qualified_name, url, reader.line_num or None, None, f"unreadable file: {error}") from None
    if batch:
        yield batch
