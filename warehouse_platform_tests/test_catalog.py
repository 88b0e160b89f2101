"""The table catalog: one YAML entry per table, validated where it is written, and the only
list of tables (dbt's raw_data sources name the same set)."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from warehouse_platform import environment
from warehouse_platform.catalog import CATALOG_PATH, load_catalog
from warehouse_platform.contract.table_spec import DistStyle, LoadMode
from warehouse_platform.definitions import build_definitions
from warehouse_platform.settings import PROJECT_ROOT
from warehouse_platform_tests.catalog_fixtures import (
    CATALOG_TYPE,
    write_catalog_project,
)

ENTRY = """\
type: {type}
attributes:
  tables:
    - name: things
      description: Things the application keeps.
      source: {{table: app.things}}
      partitioning: whole_table
      columns:
        - {{name: thingid, type: int, nullable: false}}
        - {{name: label, type: varchar(64)}}
      primary_key: [{key}]
      mode: {mode}
"""


def _entry(key: str = "thingid", mode: str = "upsert") -> str:
    return ENTRY.format(type=CATALOG_TYPE, key=key, mode=mode)


def test_the_catalog_holds_the_raw_tables_with_their_load_specs():
    specs = {spec.name: spec for spec in load_catalog()}
    assert {"user_session_channel", "session_timestamp", "session_transaction", "channel", "users", "app_events", "access_log"} == set(specs)
    timestamp = specs["session_timestamp"]
    assert (timestamp.qualified_name, timestamp.primary_key, timestamp.dedupe_order) == ("raw_data.session_timestamp", ("sessionid",), ("ts desc",))
    assert timestamp.partitioned and timestamp.source.tables_read == ("app.sessions",) and timestamp.source.day_column == "ts"
    assert (timestamp.dist_style, timestamp.dist_key, timestamp.sort_key) == (DistStyle.KEY, "sessionid", ("ts",))
    assert specs["session_transaction"].source.tables_read == ("app.transactions",)
    assert specs["session_transaction"].incremental.cursor == specs["session_transaction"].source.day_column == "updated_at"
    assert specs["users"].incremental.soft_delete_column == "deleted_at" and not specs["users"].partitioned
    assert specs["channel"].mode == LoadMode.REPLACE and not specs["channel"].partitioned
    # A retried event can land in the next day's files; an access line has no id to retry.
    assert (specs["app_events"].key_window_days, specs["access_log"].key_window_days) == (1, 0)


def test_catalog_tables_and_dbt_raw_data_sources_are_the_same_set():
    sources = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "models" / "sources.yml").read_text())["sources"]
    [raw_data] = [s for s in sources if s["name"] == "raw_data"]
    assert {t["name"] for t in raw_data["tables"]} == {spec.name for spec in load_catalog()}


def test_the_code_location_serves_what_the_catalog_declares():
    """The defs folder (the component) and the catalog read directly build the same assets."""
    loaded = build_definitions().resolve_asset_graph()
    direct = build_definitions(load_catalog()).resolve_asset_graph()
    assert loaded.get_all_asset_keys() == direct.get_all_asset_keys()
    assert loaded.asset_check_keys == direct.asset_check_keys
    for spec in load_catalog():
        assert dg.AssetKey([spec.schema, spec.name]) in loaded.get_all_asset_keys()


def test_definitions_bind_the_time_zone_when_built_not_at_import(monkeypatch):
    build_definitions()  # every module imported, definitions built once already
    monkeypatch.setenv("PLATFORM_TIMEZONE", "Asia/Seoul")
    defs = build_definitions()
    assert defs.resolve_asset_graph().get(dg.AssetKey(["raw_data", "session_timestamp"])).partitions_def.timezone == "Asia/Seoul"
    assert defs.resolve_schedule_def("daily_extract_and_load").execution_timezone == "Asia/Seoul"


def _dg(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(project), "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(project)])}
    dg_cli = str(Path(sys.executable).parent / "dg")
    return subprocess.run([dg_cli, *args], cwd=project, capture_output=True, text=True, timeout=300, env=env)


def test_dg_check_yaml_points_at_the_line_of_an_unknown_load_mode(tmp_path):
    write_catalog_project(tmp_path, _entry(mode="merge"))
    result = _dg(tmp_path, "check", "yaml")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "12 |       mode: merge" in output and "'merge' is not one of ['append', 'replace', 'upsert']" in output


LOG_ENTRY = """\
type: {type}
attributes:
  tables:
    - name: hits
      description: Hits structured from landed log lines.
      rows_from: landing
      partitioning: daily
      structuring: {{format: {format}, landing_folder: logs/hits, reject_share_limit: {share}}}
      columns:
        - {{name: line_id, type: varchar(48), nullable: false, from_field: line_id}}
        - {{name: path, type: varchar(64), {path_source}}}
      primary_key: [line_id]
      mode: replace
"""


def _log_entry(format: str = "combined_log", share: str = "0.02", path_source: str = "from_field: path") -> str:
    return LOG_ENTRY.format(type=CATALOG_TYPE, format=format, share=share, path_source=path_source)


def test_dg_check_yaml_points_at_the_line_of_an_unknown_log_format_and_of_a_reject_share_out_of_range(tmp_path):
    write_catalog_project(tmp_path / "format", _log_entry(format="xml_lines"))
    result = _dg(tmp_path / "format", "check", "yaml")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "8 |       structuring: {format: xml_lines" in output and "'xml_lines' is not one of ['json_lines', 'combined_log']" in output

    write_catalog_project(tmp_path / "share", _log_entry(share="1.5"))
    result = _dg(tmp_path / "share", "check", "yaml")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "8 |       structuring: {format: combined_log, landing_folder: logs/hits, reject_share_limit: 1.5}" in output
    assert "1.5 is greater than the maximum of 1" in output


def _loading_error(tmp_path, monkeypatch, entry: str) -> tuple[str, str]:
    """Load a catalog project with one entry; the error's text and where its entry starts."""
    module = write_catalog_project(tmp_path, entry)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(Exception) as failure:
        dg.load_from_defs_folder(path_within_project=tmp_path)
    message = "".join(str(e) for e in (failure.value, failure.value.__cause__) if e is not None)
    return message, f"attributes.tables.0 at {tmp_path / module / 'defs' / 'raw_data' / 'defs.yaml'}:4"


def test_a_json_path_on_a_table_of_access_log_lines_is_an_error_of_its_entry_at_the_entry_line(tmp_path, monkeypatch):
    message, entry_line = _loading_error(tmp_path, monkeypatch, _log_entry(path_source="from_json: $.path"))
    assert entry_line in message
    assert "raw_data.hits.path: from_json reads JSON lines; combined_log lines have fields:" in message


def test_a_key_naming_no_column_is_an_error_of_its_entry_at_the_entry_line(tmp_path, monkeypatch):
    message, entry_line = _loading_error(tmp_path, monkeypatch, _entry(key="id"))
    # No stack trace to read: the entry (tables.0), its file and line, and TableSpec's reason.
    assert entry_line in message
    assert "raw_data.things: unknown columns ['id'] in key/dist/sort declaration" in message


def test_a_key_window_on_a_table_that_is_not_a_landed_daily_replace_is_an_error_of_its_entry_at_the_entry_line(
    tmp_path, monkeypatch
):
    message, entry_line = _loading_error(tmp_path, monkeypatch, _entry().replace("      mode: upsert\n", "      mode: upsert\n      key_window_days: 1\n"))
    assert entry_line in message
    assert "raw_data.things: key_window_days is for a landed daily table loaded with mode replace" in message


def test_dg_check_yaml_points_at_the_line_of_a_key_window_out_of_range(tmp_path):
    write_catalog_project(tmp_path, _log_entry() + "      key_window_days: 30\n")
    result = _dg(tmp_path, "check", "yaml")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "14 |       key_window_days: 30" in output and "30 is greater than the maximum of 7" in output


def test_a_valid_entry_loads_through_dagsters_loader(tmp_path, monkeypatch):
    landed = _entry().replace("      source: {table: app.things}\n", "      rows_from: landing\n")
    write_catalog_project(tmp_path, landed)
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = dg.load_from_defs_folder(path_within_project=tmp_path)
    graph = dg.Definitions.merge(loaded, dg.Definitions(resources=environment.build_resources())).resolve_asset_graph()
    assert {dg.AssetKey(["stage", "raw_data", "things"]), dg.AssetKey(["raw_data", "things"])} <= graph.get_all_asset_keys()


def test_the_catalog_file_is_the_one_in_the_defs_folder():
    assert CATALOG_PATH == PROJECT_ROOT / "warehouse_platform" / "defs" / "raw_data" / "defs.yaml"
    assert yaml.safe_load(CATALOG_PATH.read_text())["type"] == CATALOG_TYPE
