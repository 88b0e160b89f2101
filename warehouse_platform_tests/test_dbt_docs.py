"""The dbt project documents what its model pages show: every model column with its type and
description, every data test with what its failure means. A model added without them fails
here, naming the file, the model and the column."""

import copy
import json
from pathlib import Path

import pytest

from warehouse_platform.transform.dbt_docs import undocumented, with_database
from warehouse_platform.transform.project import dbt_project

PACKAGE = "warehouse_platform"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(dbt_project().manifest_path.read_text())


def test_every_model_column_has_a_type_and_a_description_and_every_test_a_description(manifest):
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    # Every model of the project is in the manifest checked here (one per .sql file under models/).
    model_files = {path.stem for path in (Path(dbt_project().project_dir) / "models").rglob("*.sql")}
    assert model_files and {n["name"] for n in models} == model_files
    assert all(n["columns"] for n in models)
    assert undocumented(manifest, PACKAGE) == []


def _node(resource_type: str, name: str, **fields) -> dict:
    return {
        "resource_type": resource_type, "name": name, "package_name": PACKAGE, "description": "Described.",
        "original_file_path": f"models/analytics/{name}.sql" if resource_type == "model" else "models/analytics/schema.yml",
        **fields,
    }


def test_what_is_undocumented_is_named_by_file_model_and_column():
    manifest = {"nodes": {
        "model.p.daily_active_users": _node("model", "daily_active_users", patch_path=f"{PACKAGE}://models/logs/schema.yml", columns={
            "day": {"name": "day", "data_type": "date", "description": "The day."},
            "users": {"name": "users", "data_type": None, "description": ""},
        }),
        "model.p.http_status_daily": _node("model", "http_status_daily", description="", columns={}),
        "test.p.unique_x": _node("test", "unique_x", description=""),
        "model.other.theirs": {**_node("model", "theirs", columns={}), "package_name": "dbt_utils"},
    }}
    assert undocumented(manifest, PACKAGE) == [
        "models/logs/schema.yml: model daily_active_users: column users has no data_type",
        "models/logs/schema.yml: model daily_active_users: column users has no description",
        "models/analytics/http_status_daily.sql: model http_status_daily has no description",
        "models/analytics/http_status_daily.sql: model http_status_daily lists no columns",
        "models/analytics/schema.yml: test unique_x has no description",
    ]


def test_the_manifest_names_the_warehouse_database_runs_compile_against(manifest):
    as_parsed = copy.deepcopy(manifest)
    moved = with_database(manifest, "warehouse_7f3a")
    model = moved["nodes"]["model.warehouse_platform.mau"]
    source = moved["sources"]["source.warehouse_platform.raw_data.channel"]
    assert (model["database"], model["relation_name"]) == ("warehouse_7f3a", '"warehouse_7f3a"."analytics"."mau"')
    assert (source["database"], source["relation_name"]) == ("warehouse_7f3a", '"warehouse_7f3a"."raw_data"."channel"')
    test = next(n for n in moved["nodes"].values() if n["resource_type"] == "test")
    assert test["database"] == "warehouse_7f3a" and not test["relation_name"]
    assert manifest == as_parsed  # the parsed manifest is left as dbt wrote it
    assert with_database(manifest, 'odd"name')["nodes"]["model.warehouse_platform.mau"]["relation_name"] == '"odd""name"."analytics"."mau"'
