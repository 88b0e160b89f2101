"""Loads under faults, on the real embedded Postgres: a load process killed with SIGKILL in the
middle of its COPY, and a COPY whose warehouse session is terminated.

To stop a load at a known point, one staged part is a named pipe (FIFO) that the test feeds: the
load blocks inside that part's COPY until the test writes the rest, kills the process, or
terminates the session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import dagster as dg
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
    until `release()`, so the load waits to open the part, before its COPY starts."""

    def __init__(self, stage: LocalFolderStage, url: str, held: bool = False) -> None:
        self.path = stage._path(stage.key_for(url))
        self.data = self.path.read_bytes()
        self.path.unlink()
        os.mkfifo(self.path)
        self.first_half_written = threading.Event()
        self._release = threading.Event()
        self._abandon = False
        self._thread = threading.Thread(target=self._hold if held else self._feed, daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        try:
            with open(self.path, "wb", buffering=0) as fifo:  # blocks until the load opens the part
                fifo.write(self.data[: len(self.data) // 2])
                self.first_half_written.set()
                self._release.wait()
                if not self._abandon:
                    fifo.write(self.data[len(self.data) // 2 :])
        except BrokenPipeError:
            pass  # the reader was killed

    def _hold(self) -> None:
        self._release.wait()
        with open(self.path, "wb") as fifo:
            fifo.write(self.data)

    def release(self) -> None:
        self._release.set()
        self._thread.join(timeout=60)

    def abandon(self) -> None:
        self._abandon = True
        self.release()

    def restore(self) -> None:
        """Back to an ordinary file with the same bytes (and so the same checksum)."""
        self.path.unlink()
        self.path.write_bytes(self.data)


def _wait_for(condition, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


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


def _kill_a_load_mid_copy(warehouse, stage, tmp_path, day: str, rows: int) -> tuple[FedPart, object]:
    """Start a real process loading `day` through load_staged_batch, SIGKILL it while its COPY of
    the last part is running, and wait until its sessions are gone."""
    batch = platform_batch(stage, SESSION_TIMESTAMP, day, _day_rows(int(day[-1]), rows), slice_count=4)
    fed = FedPart(stage, batch.parts[-1].url)
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
    process = subprocess.Popen(
        [sys.executable, "-c", script, stage.root, str(manifest), batch.manifest_url, os.environ["PLATFORM_WAREHOUSE_DSN"]],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PGAPPNAME": name},
    )
    try:
        _wait_for(fed.first_half_written.is_set, "the load to read the fed part")
        # The other connection's share (parts 0 and 2) is COPYed and committed; this one is inside its COPY.
        committed = _first_share_rows(batch)
        _wait_for(lambda: _active_copies(warehouse, name) and warehouse.query(LOAD_TABLES) and warehouse.query(
            f'SELECT count(*) FROM raw_data_partitions."{warehouse.query(LOAD_TABLES)[0][0]}"')[0][0] == committed,
            "the COPY to be running with one share committed")
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    fed.abandon()
    _wait_for(lambda: not warehouse.query("SELECT 1 FROM pg_stat_activity WHERE application_name = %s", (name,)),
              "the killed load's sessions to end")
    return fed, batch


def _first_share_rows(batch) -> int:
    """Rows of the first of two connections' shares: parts 0, 2, ... (copy_in_parallel deals parts)."""
    return sum(p.row_count for p in batch.parts[0::2])


def _live_load_in_a_thread(stage, day: str):
    """A load of `day` whose table exists but that no transaction holds: two connections COPY;
    the first has committed its share, the second waits to open its first part. Only the load's
    ownership (its advisory lock) says that the table is in use. Runs until the part is released."""
    warehouse = PostgresWarehouse(dsn=os.environ["PLATFORM_WAREHOUSE_DSN"], max_parallel_copies=2)
    batch = platform_batch(stage, SESSION_TIMESTAMP, day, _day_rows(int(day[-1]), 4000), slice_count=4)
    held = FedPart(stage, batch.parts[1].url, held=True)  # shares: parts 0 and 2, parts 1 and 3
    outcome: dict = {}

    def load():
        try:
            outcome["report"] = load_staged_batch(warehouse, stage, SESSION_TIMESTAMP, batch, "live-run")
        except Exception as error:  # noqa: BLE001 - asserted by the caller
            outcome["error"] = error

    thread = threading.Thread(target=load, daemon=True)  # a failed test must not hang on it
    thread.start()

    def first_share_committed():
        tables = [t for (t,) in warehouse.query(LOAD_TABLES)]
        return [t for t in tables if warehouse.query(f'SELECT count(*) FROM raw_data_partitions."{t}"') == [(_first_share_rows(batch),)]]

    [table] = _wait_for(first_share_committed, "the live load's first share")
    return table, held, thread, outcome


def test_a_load_killed_mid_copy_leaves_its_table_until_the_next_load_of_the_table_sweeps_it(env, tmp_path):
    warehouse, stage = env
    killed_part, killed_batch = _kill_a_load_mid_copy(warehouse, stage, tmp_path, "2026-11-01", 200_000)
    [(abandoned,)] = warehouse.query(LOAD_TABLES)
    assert warehouse.query(f'SELECT count(*) FROM raw_data_partitions."{abandoned}"') == [(_first_share_rows(killed_batch),)]
    assert _day(warehouse, "2026-11-01") == (0, 0)  # nothing reached the table itself

    live_table, live_part, live_thread, live = _live_load_in_a_thread(stage, "2026-11-02")

    # The re-run of the killed day: it sweeps the abandoned table first, and not the live one.
    killed_part.restore()
    report = load_staged_batch(warehouse, stage, SESSION_TIMESTAMP, killed_batch, "rerun")
    assert report.rows_loaded == 200_000 and _day(warehouse, "2026-11-01") == (200_000, 200_000)
    assert warehouse.query(LOAD_TABLES) == [(live_table,)]

    live_part.release()
    live_thread.join(timeout=60)
    assert "error" not in live and live["report"].rows_loaded == 4000
    assert _day(warehouse, "2026-11-02") == (4000, 4000)
    assert warehouse.query(LOAD_TABLES) == []


def test_the_maintenance_job_sweeps_abandoned_load_tables_and_spares_live_ones(env, tmp_path):
    warehouse, stage = env
    _kill_a_load_mid_copy(warehouse, stage, tmp_path, "2026-11-03", 200_000)
    [(abandoned,)] = warehouse.query(LOAD_TABLES)
    live_table, live_part, live_thread, live = _live_load_in_a_thread(stage, "2026-11-04")

    with dg.instance_for_test() as instance:
        result = platform_definitions().resolve_job_def("sweep_abandoned_loads").execute_in_process(instance=instance)
    assert result.success
    assert warehouse.query(LOAD_TABLES) == [(live_table,)]

    live_part.release()
    live_thread.join(timeout=60)
    assert "error" not in live and _day(warehouse, "2026-11-04") == (4000, 4000)
    assert warehouse.query(LOAD_TABLES) == []


@pytest.mark.parametrize("mode", [LoadMode.REPLACE, LoadMode.APPEND], ids=["partition_swap", "staging_table"])
def test_a_terminated_warehouse_session_is_reported_as_a_lost_connection_that_can_be_retried(env, mode):
    _, stage = env
    # One COPY connection at a time, so the session running the fed part's COPY is the only one.
    warehouse = PostgresWarehouse(dsn=os.environ["PLATFORM_WAREHOUSE_DSN"], max_parallel_copies=1)
    spec = replace(SESSION_TIMESTAMP, mode=mode)
    day = "2026-11-05"
    load_staged_batch(warehouse, stage, spec, platform_batch(stage, spec, day, _day_rows(5, 10)[:3], slice_count=1), "r0")
    batch = platform_batch(stage, spec, day, _day_rows(5, 40_000)[3:], slice_count=4)
    fed = FedPart(stage, batch.parts[-1].url)
    outcome: dict = {}

    def load():
        try:
            load_staged_batch(warehouse, stage, spec, batch, "r1")
        except Exception as error:  # noqa: BLE001 - asserted below
            outcome["error"] = error

    thread = threading.Thread(target=load, daemon=True)  # a failed test must not hang on it
    thread.start()
    _wait_for(fed.first_half_written.is_set, "the load to read the fed part")
    [pid] = _wait_for(lambda: _active_copies(warehouse), "the COPY to be running")
    assert warehouse.query("SELECT pg_terminate_backend(%s)", (pid,)) == [(True,)]
    fed.release()
    thread.join(timeout=60)

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
