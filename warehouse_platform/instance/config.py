"""Renders the one dagster.yaml template into DAGSTER_HOME. Every entry point calls
`prepare_dagster_home`; where DAGSTER_HOME is, environment.dagster_home() decides."""

from __future__ import annotations

import os
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).with_name("dagster.yaml.template")

# How often the daemon checks run workers, and how long any run may take at most.
POLL_INTERVAL_SECONDS = 30
MAX_RUNTIME_SECONDS = 6 * 3600


def render_instance_config() -> str:
    """The instance configuration for this environment. Storage stays Dagster's default (SQLite
    under DAGSTER_HOME) until the shared Postgres storage is filled in here."""
    return Template(TEMPLATE.read_text()).substitute(
        poll_interval_seconds=POLL_INTERVAL_SECONDS,
        max_runtime_seconds=MAX_RUNTIME_SECONDS,
        storage="",
    )


def prepare_dagster_home() -> Path:
    """Create DAGSTER_HOME with the rendered dagster.yaml, and point this process (and the
    processes it starts: dbt, dagster dev) at it."""
    from warehouse_platform import environment

    home = environment.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    text = render_instance_config()
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
