"""The dbt project (dbt_project/) and its manifest."""

import os
import shutil
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from warehouse_platform import settings

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
