"""analytics: the tables analysts query, built by dbt from raw_data.

dbt tests (unique, not_null, accepted_values, relationships) arrive as asset checks on the
models they test, with dbt's severity: `error` tests block, `warn` tests do not. Each model's
materialization carries its row count, its columns with the types the warehouse reports, and
column lineage (from the compiled SQL), read from the warehouse as the model is built, also as a
markdown table the open-source UI shows (transform/lineage_table.py).
"""

import json
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
from dagster_dbt import dbt_assets

from warehouse_platform import settings
from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.transform.dbt_docs import with_database
from warehouse_platform.transform.lineage_table import with_lineage_table
from warehouse_platform.transform.project import dbt_project
from warehouse_platform.transform.resources import WarehouseDbtCliResource
from warehouse_platform.transform.translator import WarehouseDbtTranslator


def declared_sources(manifest: dict, catalog: Sequence[TableSpec]) -> list[TableSpec]:
    """The catalog's tables among the dbt project's sources (by schema and name)."""
    read = {(source["schema"], source["name"]) for source in manifest["sources"].values()}
    return [spec for spec in catalog if (spec.schema, spec.name) in read]


def dbt_failures(results: Sequence[dict]) -> str:
    """dbt's run results as one line: each node that errored or whose test failed, with the
    first two lines of dbt's message, which say where and what (`Database Error in model mau
    (models/analytics/mau.sql): relation "raw_data.x" does not exist`)."""
    failed = [r for r in results if r.get("status") in ("error", "fail")]
    if not failed:
        return ""
    return "dbt build: " + "; ".join(f"{r['unique_id']}: {_first_lines(r.get('message') or r['status'])}" for r in failed)


def _first_lines(message: str) -> str:
    return ": ".join([line.strip() for line in message.splitlines() if line.strip()][:2])


def build_defs(catalog: Sequence[TableSpec], project_dir: Path | None = None) -> dg.Definitions:
    """The dbt models of dbt_project/ (or another project), whose sources are tables of `catalog`."""
    project = dbt_project(project_dir)
    # Named as this environment's warehouse database, the one runs compile against (see
    # transform/dbt_docs.py): dagster-dbt reads row counts, column types and lineage through it.
    manifest = with_database(json.loads(project.manifest_path.read_text()), settings.warehouse_database())

    @dbt_assets(manifest=manifest, project=project, dagster_dbt_translator=WarehouseDbtTranslator(Path(project.project_dir)))
    def analytics_models(context: dg.AssetExecutionContext, dbt: WarehouseDbtCliResource):
        dbt.warehouse.ensure_schemas()
        # A model reads raw tables that may not exist yet (a log table before its first landed
        # day): create each source the catalog declares, empty and with its declared types, so
        # the model builds empty rather than failing, and has the same columns as it will later.
        for spec in declared_sources(manifest, catalog):
            dbt.warehouse.ensure_table(spec)
        # Metadata is fetched on dagster-dbt's own connection; a failure there is logged as a
        # warning and leaves the materialization without it, never failing the build.
        # dbt builds every model whose parents built (a failing model skips its dependents only),
        # and each built model is materialized; the step then fails naming what failed, rather
        # than with dagster-dbt's "the dbt CLI process ... failed", which names nothing.
        invocation = dbt.cli(["build"], context=context, raise_on_error=False)
        for event in invocation.stream().fetch_row_counts().fetch_column_metadata():
            yield with_lineage_table(event)
        if not invocation.is_successful():
            results = invocation.get_artifact("run_results.json").get("results", [])
            raise dg.Failure(description=dbt_failures(results) or "dbt build failed before building any model")

    return dg.Definitions(assets=[analytics_models])
