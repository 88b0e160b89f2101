"""The dbt project (dbt_project/) and its manifest."""

import json
import os
import shutil
import sys
from collections import Counter
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from warehouse_platform import settings
from warehouse_platform.sql.model_joins import joined_columns, resolved_sql

DBT_PROJECT_DIR = settings.PROJECT_ROOT / "dbt_project"


def dbt_project(project_dir: Path | None = None) -> DbtProject:
    """dbt_project/ (or another project: a test's copy) for this environment's dbt target, its
    manifest built when missing or stale. Called when definitions are built, never at import."""
    return _prepared_project(Path(project_dir or DBT_PROJECT_DIR).resolve(), settings.dbt_target())


@cache
def _prepared_project(project_dir: Path, target: str) -> DbtProject:
    _use_dbt_beside_this_interpreter()
    project = DbtProject(project_dir=project_dir, profiles_dir=project_dir, target=target)
    # `dg dev` re-parses on start; everywhere else (tests, the demo, `dg check defs`) the manifest
    # is rebuilt when missing or older than the project, so definitions show what the project
    # says now.
    project.prepare_if_dev()
    if _manifest_is_stale(project):
        project.preparer.prepare(project)
    return project


def _use_dbt_beside_this_interpreter() -> None:
    """dagster-dbt runs plain `dbt`; when the virtual environment is not activated (cron, an IDE,
    `.venv/bin/pytest`) use the dbt installed beside this interpreter."""
    interpreter_bin = Path(sys.executable).parent
    if shutil.which("dbt") is None and (interpreter_bin / "dbt").exists():
        os.environ["PATH"] = f"{interpreter_bin}{os.pathsep}{os.environ.get('PATH', '')}"


def _manifest_is_stale(project: DbtProject) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    project_dir = Path(project.project_dir)
    sources = [p for d in ("models", "macros", "tests") for p in (project_dir / d).rglob("*") if p.is_file()]
    sources.append(project_dir / "dbt_project.yml")
    return any(p.stat().st_mtime > built for p in sources)


def model_joins(manifest: dict) -> dict[str, dict[str, int]]:
    """For each table the models join ("schema.table"), how many join conditions use each of
    its columns, read from every model's SQL in the manifest."""
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    model_schemas = {n["name"]: n["schema"] for n in models}
    source_schemas = {s["source_name"]: s["schema"] for s in manifest["sources"].values()}
    total: Counter[tuple[str, str]] = Counter()
    for node in models:
        total += joined_columns(resolved_sql(node["raw_code"], model_schemas, source_schemas))
    joins: dict[str, dict[str, int]] = {}
    for (table, column), count in total.items():
        joins.setdefault(table, {})[column] = count
    return joins


def dbt_model_joins(project_dir: Path | None = None) -> dict[str, dict[str, int]] | None:
    """model_joins of the dbt project's manifest; None when there is no readable manifest (the
    distribution advice then takes the declared DISTKEY for the joins)."""
    try:
        return model_joins(json.loads(dbt_project(project_dir).manifest_path.read_text()))
    except Exception:  # noqa: BLE001 - advice without dbt is still advice; it says where its joins came from
        return None
