"""The table catalog (defs/raw_data/defs.yaml) read outside Dagster's loader, for the CLI and
tests, through the same entry model the RawTableCatalog component validates it with."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from dagster_shared.yaml_utils import DagsterYamlLoader

from warehouse_platform.components.raw_table_catalog import RawTableCatalog
from warehouse_platform.contract.table_spec import TableSpec

CATALOG_PATH = Path(__file__).parent / "defs" / "raw_data" / "defs.yaml"


def load_catalog(path: Path | None = None) -> tuple[TableSpec, ...]:
    return _parse(Path(path or CATALOG_PATH).read_text())


@cache  # keyed on the text: an edited catalog is read again
def _parse(text: str) -> tuple[TableSpec, ...]:
    # Dagster's own loader: like Dagster, it reads an unquoted 2015-01-01 as text, not a date.
    return RawTableCatalog.model_validate(yaml.load(text, Loader=DagsterYamlLoader)["attributes"]).specs


def table(name: str, path: Path | None = None) -> TableSpec:
    """A declared table by name (raw_data.<name>)."""
    for spec in load_catalog(path):
        if spec.name == name:
            return spec
    raise KeyError(f"no table {name!r} in the catalog {path or CATALOG_PATH}")
