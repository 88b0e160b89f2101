"""The dbt project (dbt_project/) and its manifest."""

from __future__ import annotations

from dagster_dbt import DbtProject

from warehouse_platform import environment

DBT_PROJECT_DIR = environment.PROJECT_ROOT / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=environment.dbt_target())
# `dagster dev` re-parses on start; everywhere else (tests, the demo, `definitions validate`)
# the manifest is built once if missing so the code location always loads.
dbt_project.prepare_if_dev()
if not dbt_project.manifest_path.exists():
    dbt_project.preparer.prepare(dbt_project)
