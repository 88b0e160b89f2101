"""A dg project of its own in a temporary folder, holding a table catalog, for tests that load a
catalog the way the code location does (dg.load_from_defs_folder, `dg check yaml`)."""

import uuid
from pathlib import Path

CATALOG_TYPE = "warehouse_platform.components.raw_table_catalog.RawTableCatalog"


def write_catalog_project(root: Path, catalog_yaml: str) -> str:
    """A project whose defs folder holds `catalog_yaml` as raw_data/defs.yaml; returns its root
    module's name (unique, so several can be imported in one process)."""
    module = f"catalog_probe_{uuid.uuid4().hex[:8]}"
    (root / module / "defs" / "raw_data").mkdir(parents=True)
    (root / module / "__init__.py").write_text("")
    (root / module / "defs" / "__init__.py").write_text("")
    (root / module / "defs" / "raw_data" / "defs.yaml").write_text(catalog_yaml)
    (root / module / "definitions.py").write_text(
        "from pathlib import Path\n\nimport dagster as dg\n\n\n@dg.definitions\ndef defs():\n"
        "    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)\n"
    )
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "{module}"\nversion = "0"\n\n[tool.dg]\ndirectory_type = "project"\n\n'
        f'[tool.dg.project]\nroot_module = "{module}"\nregistry_modules = ["warehouse_platform.components.*"]\n'
    )
    return module
