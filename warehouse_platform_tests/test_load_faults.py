"""Loads under faults, on the real embedded Postgres: a load process killed with SIGKILL in the
middle of its COPY, and a COPY whose warehouse session is terminated.

To stop a load at a known point, one staged part is a named pipe (FIFO) that the test feeds: the
load blocks inside that part's COPY until the test writes the rest, kills the process, or
terminates the session. Whatever a test starts (fed parts, load threads, load processes) is
released and joined when it ends, passed or failed (the `started` fixture), so a failed
assertion never leaves a load blocked on a FIFO, which would hold pytest's exit for ever.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import dagster as dg
import psycopg2.errors
import pytest

from warehouse_platform import environment
from warehouse_platform.catalog import table
from warehouse_platform.contract.table_spec import LoadMode
from warehouse_platform.stage.storage import LocalFolderStage
from warehouse_platform.warehouse.load_errors import ConnectionLost
from warehouse_platform.warehouse.loader import load_staged_batch
from warehouse_platform.warehouse.resources import PostgresWarehouse
from warehouse_platform_tests.platform_runs import platform_definitions
from warehouse_platform_tests.staged_batches import platform_batch

SESSION_TIMESTAMP = table("session_timestamp")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOAD_TABLES = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'raw_data_partitions' AND c.relname LIKE 'session\\_timestamp\\_\\_load\\_%' ORDER BY 1"
)


class FedPart:
    """A staged part replaced by a FIFO. Fed: the test writes its first half at once and the rest
    on `release()`, so the load's COPY of it stays open in between. Held: nothing is written
    until `release()`, so the load waits to open the part, before its COPY starts.
    `abandon()` ends it whatever the load is doing: a reader gets the end of the file (so its
    COPY fails), a load that has not opened the part yet finds no file."""

    def __init__(self, stage: LocalFolderStage, url: str, held: bool = False) -> None:
        self.path = stage._path(stage.key_for(url))
        self.data = self.path.read_bytes()
        self.path.unlink()
        os.mkfifo(self.path)
        self.first_half_written = threading.Event()
        self._release = threading.Event()
        self._abandoned = threading.Event()
        self._thread = threading.Thread(target=self._hold if held else self._feed, name=f"fed {self.path.name}", daemon=True)
        self._thread.start()

    def _open_when_read(self):
        """The FIFO's write end, once the load has opened the part (a blocking open would wait
        for ever if it never does); None when abandoned first."""
        while True:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:
                if error.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
            else:
                os.set_blocking(fd, True)
                return os.fdopen(fd, "wb", buffering=0)
            if self._abandoned.wait(0.01):
                # A load opening the part right now is let through (and reads an empty file);
                # one that comes later finds no file.
                fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
                self.path.unlink()
                os.close(fd)
                return None

    def _feed(self) -> None:
        fifo = self._open_when_read()
        if fifo is None:
            return
        try:
            with fifo:
                fifo.write(self.data[: len(self.data) // 2])
                self.first_half_written.set()
                self._release.wait()
                if not self._abandoned.is_set():
                    fifo.write(self.data[len(self.data) // 2 :])
        except BrokenPipeError:
            pass  # the reader was killed

    def _hold(self) -> None:
        self._release.wait()
        fifo = self._open_when_read()
        if fifo is None:
            return
        try:
            with fifo:
                if not self._abandoned.is_set():
                    fifo.write(self.data)
        except BrokenPipeError:
            pass

    def release(self) -> None:
        self._release.set()
        self._thread.join(timeout=60)

    def abandon(self) -> None:
        self._abandoned.set()
        self.release()

    @property
    def ended(self) -> bool:
        return not self._thread.is_alive()

    def restore(self) -> None:
        """Back to an ordinary file with the same bytes (and so the same checksum)."""
        self.path.unlink(missing_ok=True)
        self.path.write_bytes(self.data)


class Started:
    """What a test started: fed parts, load threads, load processes."""

    def __init__(self) -> None:
        self.parts: list[FedPart] = []
        self.threads: list[threading.Thread] = []
        self.processes: list[subprocess.Popen] = []

    def fed_part(self, stage: LocalFolderStage, url: str, held: bool = False) -> FedPart:
        self.parts.append(FedPart(stage, url, held))
        return self.parts[-1]

    def thread(self, target, name: str) -> threading.Thread:
        self.threads.append(threading.Thread(target=target, name=name, daemon=True))
        self.threads[-1].start()
        return self.threads[-1]

    def process(self, args: list[str], **kwargs) -> subprocess.Popen:
        self.processes.append(subprocess.Popen(args, **kwargs))
        return self.processes[-1]

    def end_all(self) -> list[str]:
        """Kill the processes, abandon the parts (which ends any load reading them), join the
        threads; returns what is still running."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=60)
        for part in self.parts:
            part.abandon()
        for thread in self.threads:
            thread.join(timeout=120)
        return [t.name for t in self.threads if t.is_alive()] + [p.path.name for p in self.parts if not p.ended]


@pytest.fixture
def started():
    """Everything the test started ends with it, passed or failed. A load thread is a daemon,
    but its COPY workers (a ThreadPoolExecutor's) are joined when Python exits: one left blocked
    on a FIFO would hold pytest for ever."""
    everything = Started()
    yield everything
    still_running = everything.end_all()
    assert not still_running, f"still running after the test: {still_running}"


def _wait_for(condition, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _rows_in_load_tables(warehouse, leaving_out=()) -> dict[str, int]:
    """Rows of each load table of the table (but those left out). Loads create and drop them
    all the time (a load's sweep, its end): one dropped between the listing and its count is
    simply not there."""
    found = {}
    for (name,) in warehouse.query(LOAD_TABLES):
        if name in leaving_out:
            continue
        try:
            [(found[name],)] = warehouse.query(f'SELECT count(*) FROM raw_data_partitions."{name}"')
        except psycopg2.errors.UndefinedTable:
            continue
    return found


def _active_copies(warehouse, application_name: str | None = None) -> list[int]:
    sql = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND state = 'active' AND query LIKE 'COPY %%'"
    )
    if application_name:
        return [p for (p,) in warehouse.query(sql + " AND application_name = %s", (application_name,))]
    return [p for (p,) in warehouse.query(sql)]


def _day(warehouse, day: str):
    return warehouse.query(
        "SELECT count(*), count(DISTINCT sessionid) FROM raw_data.session_timestamp WHERE _partition_date = %s", (day,)
    )[0]


@pytest.fixture
def env(platform_env, tmp_path):
    warehouse = environment.build_warehouse().process_config_and_initialize()
    return warehouse, LocalFolderStage(root=str(tmp_path / "faults_stage"))


def _day_rows(day_index: int, n: int) -> list[tuple[str, str]]:
    return [(f"{day_index:02x}{i:030x}", f"2026-11-0{day_index} 10:00:00") for i in range(n)]


def _kill_a_load_mid_copy(started, warehouse, stage, tmp_path, day: str, rows: int) -> tuple[FedPart, object, str]:
    """Start a real process loading `day` through load_staged_batch, SIGKILL it while its COPY of
    the last part is running, and wait until its sessions are gone. Returns the fed part, the
    batch and the load table the killed load left."""
    batch = platform_batch(stage, SESSION_TIMESTAMP, day, _day_rows(int(day[-1]), rows), slice_count=4)
    fed = started.fed_part(stage, batch.parts[-1].url)
    already_there = {t for (t,) in warehouse.query(LOAD_TABLES)}  # a live load's
    manifest = tmp_path / f"manifest-{day}.json"
    manifest.write_text(batch.to_manifest_json())
    script = (
        "import sys\n"
        "from warehouse_platform.staged_files.manifest import StagedBatch\n"
        "from warehouse_platform.stage.storage import LocalFolderStage\n"
        "from warehouse_platform.warehouse.loader import load_staged_batch\n"
        "from warehouse_platform.catalog import table\n"
        "SESSION_TIMESTAMP = table('session_timestamp')\n"
        "batch = StagedBatch.from_manifest_json(open(sys.argv[2]).read(), sys.argv[3])\n"
        "from warehouse_platform.warehouse.resources import PostgresWarehouse\n"
        "warehouse = PostgresWarehouse(dsn=sys.argv[4], max_parallel_copies=2)\n"
        "load_staged_batch(warehouse, LocalFolderStage(root=sys.argv[1]), SESSION_TIMESTAMP, batch, 'killed-run')\n"
    )
    name = f"killed_load_{day}"
    process = started.process(
        [sys.executable, "-c", script, stage.root, str(manifest), batch.manifest_url, os.environ["PLATFORM_WAREHOUSE_DSN"]],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PGAPPNAME": name},
    )
    _wait_for(fed.first_half_written.is_set, "the load to read the fed part")
    # The other connection's share (parts 0 and 2) is COPYed and committed; this one is inside its COPY.
    committed = _first_share_rows(batch)

    def one_share_committed():
        return _active_copies(warehouse, name) and [
            t for t, n in _rows_in_load_tables(warehouse, leaving_out=already_there).items() if n == committed
        ]

    [left_behind] = _wait_for(one_share_committed, "the COPY to be running with one share committed")
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    fed.abandon()
    _wait_for(lambda: not warehouse.query("SELECT 1 FROM pg_stat_activity WHERE application_name = %s", (name,)),
              "the killed load's sessions to end")
    return fed, batch, left_behind


def _first_share_rows(batch) -> int:
    """Rows of the first of two connections' shares: parts 0, 2, ... (copy_in_parallel deals parts)."""
    return sum(p.row_count for p in batch.parts[0::2])


def _live_load_in_a_thread(started, stage, day: str):
    """A load of `day` whose table exists but that no transaction holds: two connections COPY;
    the first has committed its share, the second waits to open its first part. Only the load's
    ownership (its advisory lock) says that the table is in use. Runs until the part is released."""
    warehouse = PostgresWarehouse(dsn=os.environ["PLATFORM_WAREHOUSE_DSN"], max_parallel_copies=2)
    batch = platform_batch(stage, SESSION_TIMESTAMP, day, _day_rows(int(day[-1]), 4000), slice_count=4)
    held = started.fed_part(stage, batch.parts[1].url, held=True)  # shares: parts 0 and 2, parts 1 and 3
    outcome: dict = {}

    def load():
        try:
            outcome["report"] = load_staged_batch(warehouse, stage, SESSION_TIMESTAMP, batch, "live-run")
        except Exception as error:  # noqa: BLE001 - asserted by the caller
            outcome["error"] = error

    thread = started.thread(load, f"live load of {day}")

    def first_share_committed():
        return [t for t, n in _rows_in_load_tables(warehouse).items() if n == _first_share_rows(batch)]

    [table] = _wait_for(first_share_committed, "the live load's first share")
    return table, held, thread, outcome


def _load_tables(warehouse) -> set[str]:
    return {t for (t,) in warehouse.query(LOAD_TABLES)}


def test_a_load_killed_mid_copy_leaves_its_table_until_the_next_load_of_the_table_sweeps_it(env, started, tmp_path):
    warehouse, stage = env
    # A live load first (a load sweeps the abandoned tables of its table when it starts, so it
    # has to be under way before the killed one leaves its table).
    live_table, live_part, live_thread, live = _live_load_in_a_thread(started, stage, "2026-11-02")
    killed_part, killed_batch, abandoned = _kill_a_load_mid_copy(started, warehouse, stage, tmp_path, "2026-11-01", 200_000)
    # The killed load's own sweep spared the live table; its own table stays behind it.
    assert _load_tables(warehouse) == {live_table, abandoned}
    assert _rows_in_load_tables(warehouse, leaving_out={live_table}) == {abandoned: _first_share_rows(killed_batch)}
    assert _day(warehouse, "2026-11-01") == (0, 0)  # nothing reached the table itself

    # The next load of the table, the re-run of the killed day, sweeps the abandoned table first, and not the live one.
    killed_part.restore()
    report = load_staged_batch(warehouse, stage, SESSION_TIMESTAMP, killed_batch, "rerun")
    assert report.rows_loaded == 200_000 and _day(warehouse, "2026-11-01") == (200_000, 200_000)
    assert _load_tables(warehouse) == {live_table}

    live_part.release()
    live_thread.join(timeout=60)
    assert not live_thread.is_alive() and "error" not in live and live["report"].rows_loaded == 4000
    assert _day(warehouse, "2026-11-02") == (4000, 4000)
    assert _load_tables(warehouse) == set()


def test_the_maintenance_job_sweeps_abandoned_load_tables_and_spares_live_ones(env, started, tmp_path):
    warehouse, stage = env
    live_table, live_part, live_thread, live = _live_load_in_a_thread(started, stage, "2026-11-04")
    _, _, abandoned = _kill_a_load_mid_copy(started, warehouse, stage, tmp_path, "2026-11-03", 200_000)
    assert _load_tables(warehouse) == {live_table, abandoned}

    with dg.instance_for_test() as instance:
        result = platform_definitions().resolve_job_def("sweep_abandoned_loads").execute_in_process(instance=instance)
    assert result.success
    assert result.output_for_node("sweep_abandoned_load_tables") == [f"raw_data_partitions.{abandoned}"]
    assert _load_tables(warehouse) == {live_table}

    live_part.release()
    live_thread.join(timeout=60)
    assert not live_thread.is_alive() and "error" not in live and _day(warehouse, "2026-11-04") == (4000, 4000)
    assert _load_tables(warehouse) == set()


@pytest.mark.parametrize("mode", [LoadMode.REPLACE, LoadMode.APPEND], ids=["partition_swap", "staging_table"])
def test_a_terminated_warehouse_session_is_reported_as_a_lost_connection_that_can_be_retried(env, started, mode):
    _, stage = env
    # One COPY connection at a time, so the session running the fed part's COPY is the only one.
    warehouse = PostgresWarehouse(dsn=os.environ["PLATFORM_WAREHOUSE_DSN"], max_parallel_copies=1)
    spec = replace(SESSION_TIMESTAMP, mode=mode)
    day = "2026-11-05"
    load_staged_batch(warehouse, stage, spec, platform_batch(stage, spec, day, _day_rows(5, 10)[:3], slice_count=1), "r0")
    batch = platform_batch(stage, spec, day, _day_rows(5, 40_000)[3:], slice_count=4)
    fed = started.fed_part(stage, batch.parts[-1].url)
    outcome: dict = {}

    def load():
        try:
            load_staged_batch(warehouse, stage, spec, batch, "r1")
        except Exception as error:  # noqa: BLE001 - asserted below
            outcome["error"] = error

    thread = started.thread(load, "load whose session is terminated")
    _wait_for(fed.first_half_written.is_set, "the load to read the fed part")
    [pid] = _wait_for(lambda: _active_copies(warehouse), "the COPY to be running")
    assert warehouse.query("SELECT pg_terminate_backend(%s)", (pid,)) == [(True,)]
    fed.release()
    thread.join(timeout=60)
    assert not thread.is_alive()

    error = outcome.get("error")
    assert isinstance(error, ConnectionLost), error
    assert error.file_url == batch.parts[-1].url and error.table == "raw_data.session_timestamp"
    assert "the connection to the warehouse was lost" in str(error)
    assert "nothing was committed, so the load can be retried" in str(error)
    assert "invalid socket" not in str(error).split("(")[0]  # not blamed on the file
    assert _day(warehouse, day) == (3, 3) and warehouse.query(LOAD_TABLES) == []

    fed.restore()  # the retry
    load_staged_batch(warehouse, stage, spec, batch, "r2")
    assert _day(warehouse, day) == ((39_997, 39_997) if mode == LoadMode.REPLACE else (40_000, 40_000))
