"""Dagster's DefaultRunLauncher, with a run worker health check for run monitoring.

The default launcher starts each run in a subprocess of the code server but cannot tell the
monitoring daemon whether that process is still alive, so a run whose worker was killed
(SIGKILL, the OOM killer, a closed laptop lid) stayed STARTED forever. Every run worker records
its pid in the run's event log ("Started process for run (pid: N)", or "Executing steps in
process (pid: N)" for a run executed in the process that created it); this launcher checks that
the process still exists. It assumes the daemon runs on the same host as the run workers, as
`dagster dev` does; a deployment with workers elsewhere uses its own launcher (ECS, Kubernetes).
"""

from __future__ import annotations

import psutil
from dagster._core.events import DagsterEventType
from dagster._core.launcher import (
    CheckRunHealthResult,
    DefaultRunLauncher,
    WorkerStatus,
)
from dagster._core.storage.dagster_run import DagsterRun

RUN_WORKER_MESSAGE = "Started process for run"
# A process may only be the run worker if it existed when the worker reported its pid; a
# younger process with the same pid is a reuse of the number.
PID_REUSE_SLACK_SECONDS = 1.0


def run_worker_pid(instance, run_id: str) -> tuple[int, float] | None:
    """(pid, time it was reported) of the run's worker process, from the run's engine events."""
    reported = []
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        data = record.dagster_event.event_specific_data if record.dagster_event else None
        pid = getattr(data, "metadata", {}).get("pid") if data else None
        if pid is not None:
            reported.append((not (record.dagster_event.message or "").startswith(RUN_WORKER_MESSAGE), record.timestamp, int(pid.value)))
    if not reported:
        return None
    # The launched worker's own event first; otherwise the earliest process that reported.
    _, timestamp, pid = min(reported)
    return pid, timestamp


def worker_status(pid: int, reported_at: float) -> tuple[WorkerStatus, str]:
    try:
        process = psutil.Process(pid)
        alive = process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= reported_at + PID_REUSE_SLACK_SECONDS
    except psutil.NoSuchProcess:
        alive = False
    if alive:
        return WorkerStatus.RUNNING, f"run worker pid {pid} is alive"
    return WorkerStatus.FAILED, f"run worker pid {pid} is gone (killed or crashed) while the run was still in progress"


class MonitoredRunLauncher(DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        found = run_worker_pid(self._instance, run.run_id)
        if found is None:
            # Not reported yet (the worker is starting); the start timeout covers a worker that never does.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "run worker has not reported its pid yet")
        status, message = worker_status(*found)
        return CheckRunHealthResult(status, message)
