"""What the UI shows about every asset besides its data: owners, a layer tag, a description,
the warehouse table name, column schemas, code references, check descriptions; and a console
that does not repeat the warnings of features chosen on purpose."""

import os
import subprocess
import sys

import dagster as dg

from warehouse_platform import chosen_features
from warehouse_platform.catalog import load_catalog
from warehouse_platform.conventions import code_references
from warehouse_platform.conventions.git_remote import browse_url
from warehouse_platform.conventions.labels import LAYER_TAG
from warehouse_platform.definitions import build_definitions
from warehouse_platform.settings import PROJECT_ROOT

LAYERS = {"source", "stage", "raw", "analytics", "export"}


def _graph():
    return build_definitions().resolve_asset_graph()


def _metadata(key: dg.AssetKey):
    return _graph().get(key).metadata


def test_every_asset_has_owners_a_description_and_a_layer_tag():
    graph = _graph()
    assert graph.materializable_asset_keys
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners, f"{key.to_user_string()} has no owner"
        assert node.description, f"{key.to_user_string()} has no description"
        assert node.tags.get(LAYER_TAG) in LAYERS, f"{key.to_user_string()} has no layer tag"


def test_raw_tables_are_owned_as_the_catalog_says_and_models_by_analytics():
    graph = _graph()
    for spec in load_catalog():
        for key in (dg.AssetKey([spec.schema, spec.name]), dg.AssetKey(["stage", spec.schema, spec.name])):
            assert spec.owners and set(graph.get(key).owners) == set(spec.owners)
    assert graph.get(dg.AssetKey(["analytics", "mau"])).owners == ["team:analytics"]
    assert graph.get(dg.AssetKey(["analytics", "mau"])).tags[LAYER_TAG] == "analytics"
    assert graph.get(dg.AssetKey(["raw_data", "channel"])).tags[LAYER_TAG] == "raw"


def test_raw_tables_are_named_database_schema_table_before_any_run(monkeypatch):
    for spec in load_catalog():
        name = _metadata(dg.AssetKey([spec.schema, spec.name]))["dagster/table_name"]
        assert name == f"warehouse.{spec.schema}.{spec.name}"
    monkeypatch.setenv("PLATFORM_WAREHOUSE_DSN", "host=db.internal dbname=analytics_wh user=loader")
    assert _metadata(dg.AssetKey(["raw_data", "channel"]))["dagster/table_name"] == "analytics_wh.raw_data.channel"
    monkeypatch.setenv("PLATFORM_ENV", "prod")
    monkeypatch.setenv("PLATFORM_STAGE_URL", "s3://company-stage/warehouse")
    monkeypatch.setenv("PLATFORM_SOURCE_DSN", "host=app.internal dbname=app")
    monkeypatch.setenv("REDSHIFT_DATABASE", "prod_dw")
    assert _metadata(dg.AssetKey(["raw_data", "channel"]))["dagster/table_name"] == "prod_dw.raw_data.channel"


def test_dbt_models_are_named_database_schema_table_as_dbt_builds_them(monkeypatch):
    """Each model's `dagster/table_name` is the relation dbt writes (its manifest's relation_name:
    the model's schema and alias), in this environment's warehouse database."""
    import json

    from warehouse_platform.transform.project import dbt_project

    manifest = json.loads(dbt_project().manifest_path.read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert models
    monkeypatch.setenv("PLATFORM_WAREHOUSE_DSN", "host=db.internal dbname=analytics_wh user=loader")
    graph = _graph()
    for node in models:
        _, schema, table = (part.strip('"') for part in node["relation_name"].split("."))
        assert graph.get(dg.AssetKey([schema, table])).metadata["dagster/table_name"] == f"analytics_wh.{schema}.{table}"


def test_stage_assets_show_the_columns_their_files_carry():
    for spec in load_catalog():
        schema = _metadata(dg.AssetKey(["stage", spec.schema, spec.name]))["dagster/column_schema"]
        assert [(c.name, c.type) for c in schema.columns] == [(c.name, c.sql_type) for c in spec.columns]
        assert all(c.description for c in schema.columns)


def test_every_check_has_a_description():
    graph = _graph()
    assert graph.asset_check_keys
    for key in graph.asset_check_keys:
        assert graph.get_check_spec(key).description, f"{key.to_user_string()} has no description"


def test_git_remotes_become_web_addresses():
    assert browse_url("git@github.com:acme/warehouse.git") == "https://github.com/acme/warehouse"
    assert browse_url("https://github.com/acme/warehouse.git") == "https://github.com/acme/warehouse"
    assert browse_url("ssh://git@gitlab.example.com:2222/data/warehouse") == "https://gitlab.example.com/data/warehouse"
    assert browse_url("/srv/git/warehouse") is None
    assert browse_url("file:///srv/git/warehouse") is None


def _code_references(key: dg.AssetKey):
    return _metadata(key)["dagster/code_references"].code_references


def test_asset_pages_link_to_their_code_in_the_repository(monkeypatch):
    monkeypatch.setenv("PLATFORM_GIT_URL", "git@github.com:acme/warehouse.git")
    monkeypatch.setenv("PLATFORM_GIT_BRANCH", "main")
    graph = _graph()
    for key in graph.materializable_asset_keys:
        urls = [r.url for r in _code_references(key) if isinstance(r, dg.UrlCodeReference)]
        assert urls, f"{key.to_user_string()} has no code reference"
        assert all(u.startswith("https://github.com/acme/warehouse/tree/main/") for u in urls)
    assert any(
        u.url.startswith("https://github.com/acme/warehouse/tree/main/warehouse_platform/warehouse/assets.py#L")
        for u in _code_references(dg.AssetKey(["raw_data", "channel"]))
    )


def test_without_a_known_remote_asset_pages_link_to_the_local_files(tmp_path, monkeypatch):
    # A checkout without a remote, whatever this one has: git answers for the repository GIT_DIR
    # names (a new one, no remote), with no user or system configuration.
    no_remote = tmp_path / "no_remote"
    subprocess.run(["git", "init", "-q", str(no_remote)], check=True, capture_output=True, timeout=60)
    monkeypatch.setenv("GIT_DIR", str(no_remote / ".git"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("PLATFORM_GIT_URL", raising=False)
    assert code_references.git_location() is None
    refs = _code_references(dg.AssetKey(["raw_data", "channel"]))
    assert refs and all(isinstance(r, dg.LocalFileCodeReference) for r in refs)
    assert any(r.file_path.endswith("warehouse_platform/warehouse/assets.py") for r in refs)


# Builds the code location as the code server does (the defs folder) and from a catalog (the
# CLI's and the tests' path, which Dagster does not silence), and uses the runtime feature a
# raw load uses (Output with a data version), with every warning shown.
_BUILD = """
import dagster as dg
from warehouse_platform.catalog import load_catalog
from warehouse_platform.definitions import build_definitions
build_definitions().get_repository_def()
build_definitions(load_catalog()).get_repository_def()
dg.Output(1, data_version=dg.DataVersion("x"))
"""


def test_building_the_code_location_prints_none_of_the_chosen_features_warnings(tmp_path):
    env = {
        **os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PLATFORM_GIT_URL": "git@github.com:acme/warehouse.git",
        "PLATFORM_STATE_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", _BUILD], capture_output=True, text=True, timeout=300, env=env, cwd=PROJECT_ROOT
    )
    assert done.returncode == 0, done.stderr
    printed = [line for line in done.stderr.splitlines() if "BetaWarning" in line or "PreviewWarning" in line]
    assert not [line for line in printed for _, message, _ in chosen_features.CHOSEN if message in line], printed
    # Every beta or preview feature the build uses is one chosen on purpose.
    assert not printed
    assert all(why for _, _, why in chosen_features.CHOSEN)
