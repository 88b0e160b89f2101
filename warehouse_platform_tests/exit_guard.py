"""A pytest plugin: the process ends when the session has, even if a test left a thread blocked.

Python's exit first joins every non-daemon thread (and concurrent.futures' workers, daemon
threads' pools included). A test that failed while a thread it started was blocked (a load
waiting on a FIFO nobody will feed, a worker on an Event nobody will set) would hold pytest
there for ever, after the summary was printed; CI would wait out its time limit.

So when the session is over, a daemon watchdog is armed. It starts counting when the
interpreter begins to exit (threading's exit hook, which runs before those joins) and, if the
process is still there GRACE_SECONDS later, prints the threads still alive with their stacks
and ends the process with the session's exit status (os._exit). An exit that completes in
that time (idle pool workers, atexit handlers) is untouched. pytest-timeout (pyproject.toml) covers
a test that hangs while it runs; this covers what is left behind after the last test.

Loaded by conftest.py for the suite, and by `-p warehouse_platform_tests.exit_guard` where a
pytest runs elsewhere (test_exit_guard.py runs one in a subprocess).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback

import pytest

GRACE_VARIABLE = "EXIT_GUARD_GRACE_SECONDS"
GRACE_SECONDS = 30.0

_exit_status = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_exit_status] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # After the terminal summary and every other plugin's unconfigure (trylast).
    exiting = threading.Event()
    grace = float(os.environ.get(GRACE_VARIABLE, GRACE_SECONDS))
    status = config.stash.get(_exit_status, 1)
    threading.Thread(target=_watch, args=(exiting, grace, status), name="exit-guard", daemon=True).start()
    # Private but stable (concurrent.futures relies on it): called when the interpreter starts
    # to exit, before it joins the non-daemon threads. A caller of pytest.main() in-process that
    # goes on running never gets there, so its watchdog never fires.
    threading._register_atexit(exiting.set)


def _watch(exiting: threading.Event, grace: float, status: int) -> None:
    exiting.wait()
    time.sleep(grace)  # an exit that completes in time ends this daemon thread with the process
    frames = sys._current_frames()
    lines = [
        (
            f"exit_guard: the session ended with exit status {status}, but {grace:g} s later Python's "
            "exit is still waiting; the threads alive:"
        ),
    ]
    for thread in threading.enumerate():
        if thread is threading.current_thread():
            continue
        lines.append(f"--- {thread.name} ({'daemon' if thread.daemon else 'non-daemon'})")
        if thread.ident in frames:
            lines.append("".join(traceback.format_stack(frames[thread.ident])).rstrip())
    lines.append(f"exit_guard: ending the process with exit status {status}")
    try:
        sys.stdout.flush()
        sys.stderr.write("\n" + "\n".join(lines) + "\n")
        sys.stderr.flush()
    finally:
        os._exit(status)
