"""Runs started by the CLI (demo, backfill) as runs of the code location's jobs.

`execute_in_process` records a run without the code location it came from, so the UI never
lists it under its job (a job's Runs tab filters on the job name and the run's repository
label, `<repository>@<code location>`). Here the run is created with the same origin the UI
and the daemon give their runs, read from the dg project (pyproject.toml [tool.dg]), as `dg dev`
reads it, and then executed in this process.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME
from dagster._core.execution.api import execute_run
from dagster._core.execution.execution_result import ExecutionResult
from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.workspace.load_target import PyProjectFileTarget

from warehouse_platform import settings

PROJECT_FILE = settings.PROJECT_ROOT / "pyproject.toml"
CODE_LOCATION = "warehouse_platform"


def code_location_job_origin(job_name: str) -> RemoteJobOrigin:
    """The origin a run of `job_name` launched from the UI has (from the project file, not a copy of it)."""
    origins = PyProjectFileTarget(path=str(PROJECT_FILE)).create_origins()
    [location] = [o for o in origins if o.location_name == CODE_LOCATION]
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME), job_name)


def run_code_location_job(
    defs: dg.Definitions, job_name: str, instance: dg.DagsterInstance, *, partition_key: str | None = None,
    run_config: Mapping | None = None, tags: Mapping[str, str] | None = None,
) -> ExecutionResult:
    job = defs.resolve_job_def(job_name)
    run = instance.create_run_for_job(
        job,
        run_config=run_config,
        tags={**(tags or {}), **({"dagster/partition": partition_key} if partition_key else {})},
        remote_job_origin=code_location_job_origin(job_name),
    )
    return execute_run(InMemoryJob(job), run, instance)
