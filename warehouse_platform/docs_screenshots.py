"""`make screenshots`: the UI pages the README and docs/ui.md show, captured from a real browser.

Runs the demo (unless `--skip-demo`: the state it left is reused), starts the Dagster webserver
on 127.0.0.1 against the project's instance, dismisses the first-visit dialog (the GraphQL
mutation `setNuxSeen`, as the dialog's own button does), and captures each page with headless
Chromium (the Debian `chromium` package; `apt-get install -y chromium`) into docs/*.png.
Neither Chromium nor this script is needed by `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from warehouse_platform import settings
from warehouse_platform.instance.processes import stop_process_group

DOCS_DIR = settings.PROJECT_ROOT / "docs"

# (file, page, what it shows). Paths are the webapp's own routes.
PAGES = [
    # A model's lineage tab, four levels each way: the whole path from the application tables
    # to the export, asset by asset (the global lineage page starts with the groups collapsed).
    (
        "lineage.png", "/assets/analytics/channel_summary?view=lineage&lineageScope=neighbors&lineageDepth=4",
        "the lineage of analytics/channel_summary: source -> stage -> raw_data -> analytics -> exports",
    ),
    (
        "raw_table_checks.png", "/assets/raw_data/user_session_channel?view=checks&checkDetail=distribution_skew",
        "a raw table's Checks tab: the distribution skew check with its figures",
    ),
    ("dbt_model.png", "/assets/analytics/channel_summary", "a dbt model page: description, columns with types, code link"),
    # After the demo its days are weeks old: the model reads stale, naming each input and how far behind.
    (
        "model_inputs_fresh.png", "/assets/analytics/session_summary?view=checks&checkDetail=inputs_fresh",
        "a model's inputs_fresh check: stale, with the stale inputs and their days behind",
    ),
    ("automation.png", "/automation", "the Automation page: schedule, sensors, declarative automation"),
]

# The flags Debian's chromium needs headless in a container (see stack_verified.md); the
# virtual time budget lets the page's queries finish before the capture.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


_LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


def _wait_until_loaded(base: str, server: subprocess.Popen, timeout: float = 180) -> None:
    """Until the webserver answers and every code location has loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the webserver exited with code {server.returncode}")
        try:
            entries = _graphql(base, _LOCATIONS)["data"]["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"the webserver at {base} did not load its code location in {timeout:.0f} s")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    raise SystemExit("chromium not found: apt-get install -y chromium")


def capture(base: str, out_dir: Path, width: int = 1600, height: int = 1000) -> list[Path]:
    chromium = _chromium()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, page, _ in PAGES:
        target = out_dir / file_name
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [
                    chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={target}",
                    f"--window-size={width},{height}", "--virtual-time-budget=30000", base + page,
                ],
                check=True, capture_output=True, timeout=180,
            )
        written.append(target)
        print(f"{target.relative_to(settings.PROJECT_ROOT)}: {base + page}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="docs_screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--skip-demo", action="store_true", help="reuse the state an earlier demo left")
    parser.add_argument("--out", type=Path, default=DOCS_DIR)
    args = parser.parse_args(argv)

    from warehouse_platform import cli
    from warehouse_platform.instance.config import prepare_dagster_home

    if not args.skip_demo:
        cli.main(["demo"])
    home = prepare_dagster_home()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    webserver = Path(sys.executable).with_name("dagster-webserver")
    # Its own process group, so stopping it stops the code server it starts too.
    server = subprocess.Popen(
        [str(webserver), "-h", "127.0.0.1", "-p", str(port)],
        cwd=settings.PROJECT_ROOT, env={**os.environ, "DAGSTER_HOME": str(home)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_loaded(base, server)
        _graphql(base, "mutation { setNuxSeen }")
        capture(base, args.out)
    finally:
        stop_process_group(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
