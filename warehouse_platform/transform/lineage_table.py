"""Column lineage as a markdown table on a dbt model's page.

dagster-dbt records lineage (`dagster/column_lineage`) that only Dagster+ draws; the open-source
UI shows a materialization's markdown inline when it is under 1,000 characters, so each build
also carries the same lineage as a small table: every column and the upstream `table.column`s
it is computed from."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

LINEAGE = "dagster/column_lineage"
SCHEMA = "dagster/column_schema"
LINEAGE_TABLE = "column_lineage"


def lineage_markdown(lineage: dg.TableColumnLineage, columns: Sequence[str] = ()) -> str:
    """| column | computed from | with one row per column, in the model's column order (`columns`,
    then any other column the lineage names), each upstream column as `schema.table.column` (a
    column from no table: a constant or a function)."""
    rows = ["| column | computed from |", "| --- | --- |"]
    deps_by_column = lineage.deps_by_column
    for column in dict.fromkeys([*columns, *deps_by_column]):
        upstream = sorted({".".join([*d.asset_key.path, d.column_name]) for d in deps_by_column.get(column, ())})
        rows.append(f"| {column} | {', '.join(upstream) if upstream else '(no upstream column)'} |")
    return "\n".join(rows)


def with_lineage_table(event):
    """A model's Output with its lineage also as markdown; anything else as it is."""
    if isinstance(event, dg.Output) and isinstance(lineage := event.metadata.get(LINEAGE), dg.TableColumnLineageMetadataValue):
        schema = event.metadata.get(SCHEMA)
        columns = [c.name for c in schema.value.columns] if isinstance(schema, dg.TableSchemaMetadataValue) else []
        table = lineage_markdown(lineage.value, columns)
        return event.with_metadata({**event.metadata, LINEAGE_TABLE: dg.MetadataValue.md(table)})
    return event
