"""The Dagster instance the platform ships: one DAGSTER_HOME rule for every entry point, one
dagster.yaml, run monitoring that fails a run whose worker was SIGKILLed, CLI runs listed under
their code location's jobs."""

import contextlib
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import date
from pathlib import Path

import dagster as dg
import psutil
import yaml
from dagster._core.launcher import WorkerStatus
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import PyProjectFileTarget, PythonFileTarget
from dagster._daemon.asset_daemon import get_auto_materialize_paused
from dagster._daemon.monitoring.run_monitoring import execute_run_monitoring_iteration

from warehouse_platform import settings
from warehouse_platform.instance.config import (
    DAGSTER_DATABASE,
    STORAGE_URL_VARIABLE,
    prepare_dagster_home,
    render_instance_config,
    render_prod_instance_config,
    storage_by_url,
    storage_by_variable,
)
from warehouse_platform.instance.run_launcher import (
    MonitoredRunLauncher,
    run_worker_pid,
)
from warehouse_platform.postgres_endpoint import (
    PostgresEndpoint,
    stop_embedded_postgres,
)
from warehouse_platform.sample_data.session_generator import GeneratorConfig
from warehouse_platform_tests.conftest import use_dagster_storage_on
from warehouse_platform_tests.platform_runs import seed

PROJECT_ROOT = settings.PROJECT_ROOT


def test_every_entry_point_uses_the_dagster_home_under_the_state_dir(postgres_server, tmp_path, monkeypatch):
    monkeypatch.setenv("PLATFORM_STATE_DIR", str(tmp_path / "state"))
    use_dagster_storage_on(postgres_server, "entry_points", monkeypatch)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "somewhere_else"))  # not consulted
    expected = tmp_path / "state" / "dagster_home"
    assert settings.dagster_home() == expected
    # The CLI (make demo, make dev and make validate go through it) prepares and prints the same folder.
    out = subprocess.run(
        [sys.executable, "-m", "warehouse_platform.cli", "dagster-home"], cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True, check=True, timeout=300,
    ).stdout.strip()
    assert out == str(expected)
    assert (expected / "dagster.yaml").read_text() == render_instance_config(storage_by_variable(), expected)
    # make dev runs `warehouse-platform dev` and sets no DAGSTER_HOME of its own.
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "export DAGSTER_HOME" not in makefile and "$(VENV)/bin/warehouse-platform dev" in makefile
    assert prepare_dagster_home() == expected and os.environ["DAGSTER_HOME"] == str(expected)
    # Automation runs through the declarative_automation sensor: the UI's badge reads "on".
    with dg.DagsterInstance.from_config(str(expected)) as instance:
        assert not get_auto_materialize_paused(instance)


def test_the_shipped_instance_monitors_runs_and_keeps_one_run_per_day():
    config = yaml.safe_load(render_instance_config(storage_by_url("postgresql://postgres:@/dagster")))
    assert config["telemetry"] == {"enabled": False}
    assert config["run_monitoring"]["enabled"] and config["run_monitoring"]["max_resume_run_attempts"] == 0
    assert config["run_monitoring"]["max_runtime_seconds"] > 0
    assert config["concurrency"]["runs"]["tag_concurrency_limits"] == [
        {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]


@dg.op
def say_hello():
    return "hello"


@dg.job(tags={"dagster/partition": "2026-11-05"})
def hello():
    say_hello()


def test_the_cli_starts_the_embedded_postgres_and_the_instance_records_runs_in_its_dagster_database(tmp_path, monkeypatch):
    """No server is running and no `dagster` database exists: the CLI (as `make dev` and the
    demo do) starts the embedded server and creates the database; an instance built from the
    rendered dagster.yaml, in another process, attaches to that server and records a run there."""
    state = tmp_path / "state"
    monkeypatch.setenv("PLATFORM_STATE_DIR", str(state))
    monkeypatch.delenv(STORAGE_URL_VARIABLE, raising=False)
    try:
        home = subprocess.run(
            [sys.executable, "-m", "warehouse_platform.cli", "dagster-home"], cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True, check=True, timeout=300,
        ).stdout.strip()
        config = yaml.safe_load((Path(home) / "dagster.yaml").read_text())
        url = config["storage"]["postgres"]["postgres_url"]
        assert url.startswith(f"postgresql://postgres:@/{DAGSTER_DATABASE}?host=")
        # The same instance as prod but for the three parts that differ (test_deploy.py compares them).
        prod = yaml.safe_load(render_prod_instance_config())
        for section in ("concurrency", "run_monitoring", "run_retries", "telemetry"):
            assert config[section] == prod[section], section

        from dagster_postgres import PostgresRunStorage

        with dg.DagsterInstance.from_config(home) as instance:
            assert isinstance(instance.run_storage, PostgresRunStorage)
            assert instance.get_concurrency_config().pool_config.default_pool_limit == prod["concurrency"]["pools"]["default_limit"]
            result = hello.execute_in_process(instance=instance)
            assert result.success
        storage = PostgresEndpoint.from_dsn(url)
        assert storage.dbname == DAGSTER_DATABASE
        [(job, status, partition)] = storage.query(
            "SELECT r.pipeline_name, r.status, t.value FROM runs r JOIN run_tags t ON t.run_id = r.run_id "
            "AND t.key = 'dagster/partition' WHERE r.run_id = %s", (result.run_id,),
        )
        assert (job, status, partition) == ("hello", "SUCCESS", "2026-11-05")
    finally:
        stop_embedded_postgres(state / "pgdata")


SLEEPING_CODE_LOCATION = textwrap.dedent(
    """
    import time
    import dagster as dg

    @dg.op
    def wait_forever():
        time.sleep(600)

    # The default (multiprocess) executor: the step sleeps in a process of its own, which the
    # test finds (its compute-log tail's parent) to choose the victim, the step's parent, itself.
    @dg.job
    def long_load():
        wait_forever()

    defs = dg.Definitions(jobs=[long_load])
    """
)


def _wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_run_whose_worker_is_killed_is_marked_failed_by_run_monitoring(postgres_server, tmp_path, monkeypatch):
    monkeypatch.setenv("PLATFORM_STATE_DIR", str(tmp_path / "state"))
    use_dagster_storage_on(postgres_server, "killed_worker", monkeypatch)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "placeholder"))
    home = prepare_dagster_home()
    code = tmp_path / "sleeping.py"
    code.write_text(SLEEPING_CODE_LOCATION)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_launcher, MonitoredRunLauncher)
        target = PythonFileTarget(python_file=str(code), attribute=None, working_directory=str(tmp_path), location_name="sleeping")
        with WorkspaceProcessContext(instance, target) as workspace_process:
            workspace = workspace_process.create_request_context()
            location = workspace.get_code_location("sleeping")
            remote_job = location.get_repository("__repository__").get_full_job("long_load")
            run = instance.create_run(
                job_name="long_load", run_id=None, run_config={}, resolved_op_selection=None, step_keys_to_execute=None,
                status=None, tags={}, root_run_id=None, parent_run_id=None,
                job_snapshot=remote_job.job_snapshot, execution_plan_snapshot=None, parent_job_snapshot=None,
                remote_job_origin=remote_job.get_remote_origin(), job_code_origin=remote_job.get_python_origin(),
                asset_selection=None, asset_check_selection=None, op_selection=None, asset_graph=None,
            )
            # Launched the way the UI and the daemon launch runs: the code server starts a run worker process.
            instance.launch_run(run.run_id, workspace)
            _wait_for(lambda: instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED)
            # The victim is chosen from the process tree this test started, not by the code under
            # test: the run's step process writes its compute logs (a `tail` of a file under the
            # run's folder), and the run worker is that step process's parent.
            worker, step_process = _wait_for(lambda: _run_worker_and_step_process(run.run_id))
            try:
                pid = worker.pid
                assert run_worker_pid(instance, run.run_id)[0] == pid  # the check watches that process
                logger = logging.getLogger("run_monitoring_test")
                list(execute_run_monitoring_iteration(workspace_process, logger))
                assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED  # alive: left alone

                os.kill(pid, signal.SIGKILL)
                _wait_for(lambda: not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text(), 10)
                # What the monitoring daemon asks the launcher; the default launcher cannot answer.
                health = instance.run_launcher.check_run_worker_health(instance.get_run_by_id(run.run_id))
                assert health.status == WorkerStatus.FAILED and f"run worker pid {pid} is gone" in health.msg

                # The daemon's own monitoring iteration, as `dagster-daemon run` executes it. (The code
                # server that started the worker may notice its child's death first; when the code
                # server is gone too, as after a crash of `make dev`, monitoring is what does.)
                list(execute_run_monitoring_iteration(workspace_process, logger))
                assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
            finally:
                # Whatever failed: no run worker or step process left sleeping for ten minutes
                # (a step process outlives its SIGKILLed parent).
                for process in (worker, step_process):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        process.kill()


def _run_worker_and_step_process(run_id: str):
    for process in psutil.Process().children(recursive=True):
        try:
            if process.name() == "tail" and f"/{run_id}/compute_logs/" in " ".join(process.cmdline()):
                step_process = process.parent()
                return step_process.parent(), step_process
        except psutil.NoSuchProcess:
            continue
    return None


def _monitored_instance():
    return dg.instance_for_test(
        overrides={"run_launcher": {"module": "warehouse_platform.instance.run_launcher", "class": "MonitoredRunLauncher"}}
    )


def _report_worker_pid(instance, run, pid: int, at: float, message: str = "Started process for run (pid: {pid}).") -> None:
    """The event a run worker stores as it starts ("Started process for run (pid: N)"), as of `at`."""
    from dagster._core.events import DagsterEvent, EngineEventData
    from dagster._core.events.log import EventLogEntry

    event = DagsterEvent(
        event_type_value=dg.DagsterEventType.ENGINE_EVENT.value, job_name=run.job_name,
        message=message.format(pid=pid),
        event_specific_data=EngineEventData(metadata={"pid": dg.MetadataValue.text(str(pid))}),
    )
    instance.store_event(EventLogEntry(
        error_info=None, level=logging.INFO, user_message="", run_id=run.run_id, timestamp=at, dagster_event=event,
    ))


def test_a_process_younger_than_the_run_worker_with_its_pid_is_not_the_worker():
    """The worker died and the system gave its pid to a new process: the run is not alive."""
    newcomer = subprocess.Popen(["sleep", "60"])
    try:
        started = psutil.Process(newcomer.pid).create_time()
        with _monitored_instance() as instance:
            run = instance.create_run_for_job(hello, status=DagsterRunStatus.STARTED)
            # The worker reported this pid a minute before the process now holding it existed.
            _report_worker_pid(instance, run, newcomer.pid, started - 60)
            health = instance.run_launcher.check_run_worker_health(run)
            assert health.status == WorkerStatus.FAILED, health.msg
            # The same process, reported after it started, is the worker and alive.
            other = instance.create_run_for_job(hello, status=DagsterRunStatus.STARTED)
            _report_worker_pid(instance, other, newcomer.pid, time.time())
            assert instance.run_launcher.check_run_worker_health(other).status == WorkerStatus.RUNNING
    finally:
        newcomer.kill()
        newcomer.wait()


def test_a_zombie_run_worker_is_not_alive():
    """Dead but not yet reaped by its parent: the pid exists, the worker does not."""
    worker = subprocess.Popen(["true"])
    try:
        _wait_for(lambda: psutil.Process(worker.pid).status() == psutil.STATUS_ZOMBIE, 10)
        with _monitored_instance() as instance:
            run = instance.create_run_for_job(hello, status=DagsterRunStatus.STARTED)
            _report_worker_pid(instance, run, worker.pid, time.time())
            health = instance.run_launcher.check_run_worker_health(run)
            assert health.status == WorkerStatus.FAILED and f"run worker pid {worker.pid} is gone" in health.msg
    finally:
        worker.wait()


def test_cli_backfill_runs_are_runs_of_the_code_location_job(platform_env, monkeypatch):
    from warehouse_platform import cli

    monkeypatch.setenv("DAGSTER_HOME", "restored-after-the-test")
    seed(platform_env["source"], date(2026, 11, 5), 1, GeneratorConfig(scale=0.1))
    assert cli.main(["backfill", "--from", "2026-11-05", "--to", "2026-11-05", "--no-analytics"]) == 0
    with dg.DagsterInstance.from_config(str(settings.dagster_home())) as instance:
        [run] = instance.get_runs()
        assert run.status == DagsterRunStatus.SUCCESS and run.tags["dagster/partition"] == "2026-11-05"
        origin = run.remote_job_origin
        assert (origin.location_name, origin.job_name) == ("warehouse_platform", "extract_and_load_day")
        # What the job's Runs tab asks for (dagster-graphql GraphenePipeline.resolve_runs), with the
        # repository label of the job as the real code location (the dg project `dg dev` serves) serves it.
        target = PyProjectFileTarget(path=str(PROJECT_ROOT / "pyproject.toml"))
        with WorkspaceProcessContext(instance, target) as workspace_process:
            location = workspace_process.create_request_context().get_code_location("warehouse_platform")
            job = location.get_repository("__repository__").get_full_job("extract_and_load_day")
            label = job.get_remote_origin().repository_origin.get_label()
        listed = instance.get_runs(RunsFilter(job_name="extract_and_load_day", tags={REPOSITORY_LABEL_TAG: label}))
        assert [r.run_id for r in listed] == [run.run_id]


def test_a_cli_run_whose_process_was_killed_is_marked_failed_by_the_next_cli_start(platform_env):
    """A real `warehouse-platform backfill` process is SIGKILLed while its run is STARTED; no
    daemon runs. The next CLI start reports that run failed, says so in one line, and leaves
    alone a run whose process still lives."""
    from warehouse_platform.instance.runs import CLI_HOST_TAG, CLI_PID_TAG, CLI_PROCESS_STARTED_TAG, cli_process_tags

    seed(platform_env["source"], date(2026, 11, 5), 3, GeneratorConfig(scale=0.1))
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    cli = [sys.executable, "-m", "warehouse_platform.cli", "backfill"]
    storage = PostgresEndpoint.from_dsn(os.environ[STORAGE_URL_VARIABLE])

    def started_runs():
        try:
            return storage.query("SELECT run_id FROM runs WHERE status = 'STARTED'")
        except Exception:  # the CLI has not created the instance's database and tables yet
            return []

    doomed = subprocess.Popen([*cli, "--from", "2026-11-05", "--to", "2026-11-07"], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        [(killed_run,)] = _wait_for(started_runs, 120)
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    assert storage.query("SELECT status FROM runs WHERE run_id = %s", (killed_run,)) == [("STARTED",)]

    with dg.DagsterInstance.from_config(str(settings.dagster_home())) as instance:
        # A run this (live) test process executes, and one whose pid was reused by this process.
        alive, reused = (
            dg.DagsterRun(job_name="by_hand", run_id=str(uuid.uuid4()), status=DagsterRunStatus.STARTED, tags=tags)
            for tags in (cli_process_tags(), {**cli_process_tags(), CLI_PROCESS_STARTED_TAG: "1.000"})
        )
        instance.add_run(alive)
        instance.add_run(reused)
        killed = instance.get_run_by_id(killed_run)
        assert killed.tags[CLI_PID_TAG] == str(doomed.pid) and killed.tags[CLI_HOST_TAG]

    restart = subprocess.run([*cli, "--from", "2026-11-05", "--to", "2026-11-05"], cwd=PROJECT_ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    assert restart.returncode == 0, restart.stderr
    reported = [line for line in restart.stdout.splitlines() if line.startswith("run ")]
    assert len(reported) == 2 and all("is gone (killed or crashed)" in line for line in reported)
    assert any(line.startswith(f"run {killed_run} (extract_and_load_day 2026-11-0") for line in reported)
    assert any(f"pid {doomed.pid})" in line for line in reported)
    with dg.DagsterInstance.from_config(str(settings.dagster_home())) as instance:
        assert instance.get_run_by_id(killed_run).status == DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(reused.run_id).status == DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == DagsterRunStatus.STARTED
        [failure] = instance.all_logs(killed_run, of_type=dg.DagsterEventType.RUN_FAILURE)
        assert f"pid {doomed.pid}" in failure.dagster_event.message


def test_the_process_watched_is_the_one_the_run_worker_reported_as_itself():
    """Other processes of the run report pids too (an executor's parent, a step's subprocess);
    a live one of those does not keep a dead worker's run alive."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen(["sleep", "60"])
    try:
        with _monitored_instance() as instance:
            run = instance.create_run_for_job(hello, status=DagsterRunStatus.STARTED)
            _report_worker_pid(instance, run, dead.pid, time.time() - 1)
            _report_worker_pid(instance, run, live.pid, time.time(), "Executing steps using multiprocess executor: parent process (pid: {pid})")
            health = instance.run_launcher.check_run_worker_health(run)
            assert health.status == WorkerStatus.FAILED and f"run worker pid {dead.pid} is gone" in health.msg
    finally:
        live.kill()
        live.wait()


def test_stop_ends_the_embedded_postgres_without_printing_a_warning(tmp_path):
    """`warehouse-platform stop` from a shell without XDG_RUNTIME_DIR (cron, ssh, a container):
    pgserver asks platformdirs for a runtime directory as it is imported, which warned
    (RuntimeDirWarning) on the way to stopping the server."""
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env.update(PLATFORM_STATE_DIR=str(state), PYTHONPATH=str(PROJECT_ROOT), PYTHONWARNINGS="default")
    try:
        subprocess.run(
            [sys.executable, "-c", "import sys; from pathlib import Path; from warehouse_platform.postgres_endpoint import "
             "start_embedded_postgres; start_embedded_postgres(Path(sys.argv[1]))", str(state / "pgdata")],
            cwd=PROJECT_ROOT, env=env, check=True, capture_output=True, timeout=300,
        )
        stop = subprocess.run(
            [sys.executable, "-m", "warehouse_platform.cli", "stop"], cwd=PROJECT_ROOT, env=env, capture_output=True,
            text=True, timeout=300,
        )
        assert (stop.returncode, stop.stdout.strip()) == (0, "embedded Postgres stopped"), stop.stderr
        assert "Warning" not in stop.stderr, stop.stderr
    finally:
        stop_embedded_postgres(state / "pgdata")
