"""The dbt CLI, pointed at the same warehouse the loaders write to."""


import os
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from warehouse_platform.transform.project import dbt_project
from warehouse_platform.warehouse.resources import Warehouse


class WarehouseDbtCliResource(DbtCliResource):
    """dbt reads its connection from environment variables (profiles.yml), and dagster-dbt
    passes this process's environment to the dbt subprocess and to the adapter it uses for
    row counts; so the warehouse's connection settings are exported here, at step start."""

    warehouse: dg.ResourceDependency[Warehouse]

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        super().setup_for_execution(context)
        os.environ.update(self.warehouse.dbt_environment())


def build_dbt_resource(warehouse: Warehouse, project_dir: Path | None = None) -> WarehouseDbtCliResource:
    project = dbt_project(project_dir)
    return WarehouseDbtCliResource(
        project_dir=project, target=project.target, profiles_dir=str(project.profiles_dir), warehouse=warehouse,
    )
