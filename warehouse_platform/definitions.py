"""The code location: the defs folder (the table catalog, analytics) bound to this environment's
resources. Nothing here runs at import: `dg dev`, `dg check defs`, the CLI and tests build the
definitions by calling build_definitions, against the environment as it is then."""

from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from warehouse_platform import (
    chosen_features,  # noqa: F401  (its warning filters, before any definition)
    environment,
)
from warehouse_platform.components.raw_table_catalog import build_table_definitions
from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.conventions.code_references import with_code_references
from warehouse_platform.defs.analytics.defs import analytics_definitions


def build_definitions(tables: Sequence[TableSpec] | None = None, *, dbt_project_dir: Path | None = None) -> dg.Definitions:
    """The defs folder as the code location serves it; or, for tests, the same per-table and
    analytics definitions built from other tables (a catalog of their own, see
    catalog.load_catalog) and another dbt project."""
    if tables is None and dbt_project_dir is None:
        loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    else:
        from warehouse_platform.catalog import load_catalog

        loaded = dg.Definitions.merge(
            build_table_definitions(load_catalog() if tables is None else tables), analytics_definitions(dbt_project_dir)
        )
    return code_location(loaded, dbt_project_dir)


def code_location(loaded: dg.Definitions, dbt_project_dir: Path | None = None) -> dg.Definitions:
    """Definitions as the code location serves them: linked to their code, bound to this
    environment's resources (also the catalog benchmark's scratch projects, benchmarks/catalog_benchmark.py)."""
    return dg.Definitions.merge(
        with_code_references(loaded), dg.Definitions(resources=environment.build_resources(dbt_project_dir))
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
