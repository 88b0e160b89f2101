"""The Dagster processes a tool starts on its own (a webserver and the code server it spawns)."""

import os
import signal
import subprocess


def stop_process_group(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stops `process`, started with start_new_session=True, with everything it started (the
    webserver's code server is its child): SIGTERM to the group, SIGKILL if it has not ended
    within `timeout` seconds."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
