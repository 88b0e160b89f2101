"""Runs started by the CLI (demo, backfill) as runs of the code location's jobs.

`execute_in_process` records a run without the code location it came from, so the UI never
lists it under its job (a job's Runs tab filters on the job name and the run's repository
label, `<repository>@<code location>`). Here the run is created with the same origin the UI
and the daemon give their runs, read from the dg project (pyproject.toml [tool.dg]), as `dg dev`
reads it, and then executed in this process.

No daemon watches a run executed in the CLI's process: each is tagged with the process (host,
pid, create time), and the next CLI start reports FAILURE for those whose process is gone.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

import dagster as dg
import psutil
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME
from dagster._core.execution.api import create_execution_plan, execute_run
from dagster._core.execution.execution_result import ExecutionResult
from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.snap import snapshot_from_execution_plan
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter
from dagster._core.workspace.load_target import PyProjectFileTarget

from warehouse_platform import settings

PROJECT_FILE = settings.PROJECT_ROOT / "pyproject.toml"
CODE_LOCATION = "warehouse_platform"

# Which process executes a CLI run: no daemon watches it (its worker is the CLI itself), so the
# next CLI start looks for its runs whose process is gone. The create time tells a reused pid
# from the process that ran.
CLI_HOST_TAG = "warehouse_platform/cli_host"
CLI_PID_TAG = "warehouse_platform/cli_pid"
CLI_PROCESS_STARTED_TAG = "warehouse_platform/cli_process_started"
IN_PROGRESS = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def _process_started(pid: int) -> str | None:
    """The process's create time as a tag value (to the millisecond), None when it is gone."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None  # dead, only not yet reaped by its parent
        return f"{process.create_time():.3f}"
    except psutil.NoSuchProcess:
        return None


def cli_process_tags() -> dict[str, str]:
    return {
        CLI_HOST_TAG: socket.gethostname(),
        CLI_PID_TAG: str(os.getpid()),
        CLI_PROCESS_STARTED_TAG: _process_started(os.getpid()) or "",
    }


def fail_runs_of_dead_cli_processes(instance: dg.DagsterInstance) -> list[str]:
    """Report FAILURE for the in-progress runs a CLI process on this host executed and that
    process is gone (killed by SIGKILL, the OOM killer, a closed terminal); one line for each."""
    lines = []
    runs = instance.get_runs(RunsFilter(statuses=IN_PROGRESS, tags={CLI_HOST_TAG: socket.gethostname()}))
    for run in runs:
        pid, started = int(run.tags[CLI_PID_TAG]), run.tags.get(CLI_PROCESS_STARTED_TAG)
        if _process_started(pid) == started:
            continue  # still running (this process, or another CLI's)
        message = (
            f"the warehouse-platform process (pid {pid}) that ran this run is gone (killed or crashed) while the run "
            "was in progress; marked failed by the next CLI start"
        )
        instance.report_run_failed(run, message)
        lines.append(f"run {run.run_id} ({run.job_name} {run.tags.get('dagster/partition', '')}".rstrip() + f"): {message}")
    return lines


def code_location_job_origin(job_name: str) -> RemoteJobOrigin:
    """The origin a run of `job_name` launched from the UI has (from the project file, not a copy of it)."""
    origins = PyProjectFileTarget(path=str(PROJECT_FILE)).create_origins()
    [location] = [o for o in origins if o.location_name == CODE_LOCATION]
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME), job_name)


def run_code_location_job(
    defs: dg.Definitions, job_name: str, instance: dg.DagsterInstance, *, partition_key: str | None = None,
    run_config: Mapping | None = None, tags: Mapping[str, str] | None = None,
    asset_selection: AbstractSet[dg.AssetKey] | None = None,
    asset_check_selection: AbstractSet[dg.AssetCheckKey] | None = None,
) -> ExecutionResult:
    """One run of `job_name` (all of it, or the assets and checks selected, as the UI's
    "Materialize selected" records a subset), executed here and recorded in `instance`."""
    job = defs.resolve_job_def(job_name)
    tags = {**(tags or {}), **({"dagster/partition": partition_key} if partition_key else {}), **cli_process_tags()}
    origin = code_location_job_origin(job_name)
    if asset_selection is None and asset_check_selection is None:
        run = instance.create_run_for_job(job, run_config=run_config, tags=tags, remote_job_origin=origin)
        return execute_run(InMemoryJob(job), run, instance)
    # create_run_for_job records no check selection (a checks-only run would run the whole
    # job), so the run is created as it does, with both selections recorded.
    assets = frozenset(asset_selection or ())
    checks = frozenset(asset_check_selection) if asset_check_selection is not None else None
    subset = job.get_subset(asset_selection=assets, asset_check_selection=checks)
    plan = create_execution_plan(subset, run_config=run_config, instance_ref=instance.get_ref() if instance.is_persistent else None, tags=tags)
    run = instance.create_run(
        job_name=job.name, run_id=None, run_config=run_config, resolved_op_selection=None, op_selection=None,
        asset_selection=assets, asset_check_selection=checks, step_keys_to_execute=plan.step_keys_to_execute,
        status=None, root_run_id=None, parent_run_id=None, tags=tags,
        job_snapshot=subset.get_job_snapshot(),
        execution_plan_snapshot=snapshot_from_execution_plan(plan, subset.get_job_snapshot_id()),
        parent_job_snapshot=subset.get_parent_job_snapshot(), remote_job_origin=origin, job_code_origin=None,
        asset_graph=subset.asset_layer.asset_graph,
    )
    return execute_run(InMemoryJob(job), run, instance)
