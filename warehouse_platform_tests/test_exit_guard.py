"""The suite cannot hang after its tests: a failing test that leaves a non-daemon thread blocked
makes pytest exit with the failure (exit_guard.py), where Python alone would wait for the
thread for ever."""

import os
import subprocess
import sys
import time

from warehouse_platform.settings import PROJECT_ROOT
from warehouse_platform_tests import exit_guard

HOLDS_A_THREAD_AND_FAILS = """
import threading

def test_a_failure_that_leaves_a_thread_blocked():
    never_set = threading.Event()
    threading.Thread(target=never_set.wait, name="blocked-by-the-failed-test").start()  # not a daemon
    assert 1 + 1 == 3, "the failure pytest reports"
"""


def test_a_failed_test_holding_a_thread_ends_the_session_with_its_failure(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # this folder is the rootdir: no project config
    (tmp_path / "test_holds_a_thread.py").write_text(HOLDS_A_THREAD_AND_FAILS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update({"PYTHONPATH": str(PROJECT_ROOT), exit_guard.GRACE_VARIABLE: "2"})
    started = time.monotonic()
    # Without the guard (no -p) this subprocess never ends and run() raises TimeoutExpired.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "warehouse_platform_tests.exit_guard", "-p", "no:cacheprovider",
         "test_holds_a_thread.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert time.monotonic() - started < 120
    assert done.returncode == 1, done.stdout + done.stderr  # pytest's "tests failed"
    assert "1 failed" in done.stdout and "the failure pytest reports" in done.stdout, done.stdout
    # The guard names the thread that held the exit, with its stack.
    assert "--- blocked-by-the-failed-test (non-daemon)" in done.stderr, done.stderr
    assert "ending the process with exit status 1" in done.stderr
