"""The dbt project (dbt_project/) and its manifest."""

import os
import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from warehouse_platform import environment

DBT_PROJECT_DIR = environment.PROJECT_ROOT / "dbt_project"

# dagster-dbt runs plain `dbt`; when the virtual environment is not activated (cron, an IDE,
# `.venv/bin/pytest`) use the dbt installed beside this interpreter.
_interpreter_bin = Path(sys.executable).parent
if shutil.which("dbt") is None and (_interpreter_bin / "dbt").exists():
    os.environ["PATH"] = f"{_interpreter_bin}{os.pathsep}{os.environ.get('PATH', '')}"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=environment.dbt_target())


def _manifest_is_stale() -> bool:
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [p for d in ("models", "macros", "tests") for p in (DBT_PROJECT_DIR / d).rglob("*") if p.is_file()]
    sources.append(DBT_PROJECT_DIR / "dbt_project.yml")
    return any(p.stat().st_mtime > built for p in sources)


# `dagster dev` re-parses on start; everywhere else (tests, the demo, `definitions validate`)
# the manifest is rebuilt when missing or older than the project, so the code location loads
# what dbt_project/ says now.
dbt_project.prepare_if_dev()
if _manifest_is_stale():
    dbt_project.preparer.prepare(dbt_project)
