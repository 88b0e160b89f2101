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
from warehouse_platform.components.raw_table_catalog import RawTableCatalog
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


# The tables the project ships. A catalog holds them and may hold more: a table a user adds is
# never a failure of these tests (test_a_catalog_with_an_added_table_passes_the_catalog_tests).
SHIPPED_TABLES = {"user_session_channel", "session_timestamp", "session_transaction", "channel", "users", "app_events", "access_log"}


def test_the_catalog_holds_the_shipped_raw_tables_with_their_load_specs():
    specs = {spec.name: spec for spec in load_catalog()}
    assert SHIPPED_TABLES <= set(specs)
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


def _loading_error(tmp_path, monkeypatch, catalog: str, entry: int = 0) -> tuple[str, str]:
    """Load a catalog project (as `dg check defs` and the code location do); the error's text and
    where the entry at position `entry` starts (`attributes.tables.<entry> at <file>:<line>`)."""
    module = write_catalog_project(tmp_path, catalog)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(Exception) as failure:
        dg.load_from_defs_folder(path_within_project=tmp_path)
    message = "".join(str(e) for e in (failure.value, failure.value.__cause__) if e is not None)
    line = [i for i, text in enumerate(catalog.splitlines(), 1) if text.startswith("    - name: ")][entry]
    return message, f"attributes.tables.{entry} at {tmp_path / module / 'defs' / 'raw_data' / 'defs.yaml'}:{line}"


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


# Entries that must fail validation (`dg check defs`, `make validate`, the code location loading),
# each naming its entry, at the entry's line, with its reason: nothing of them reaches the warehouse.
_LABEL = "        - {name: label, type: varchar(64)}\n"
_KEY = "        - {name: thingid, type: int, nullable: false}\n"
BAD_ENTRIES = {
    "a_type_carrying_sql": (
        _LABEL, '        - {name: label, type: "int); DROP TABLE x; --"}\n',
        "column 'label': type 'int); DROP TABLE x; --': not a type the platform knows",
    ),
    "an_unknown_type": (_LABEL, "        - {name: label, type: integr}\n", "column 'label': type 'integr': not a type the platform knows"),
    "a_numeric_wider_than_redshift_holds": (
        _LABEL, '        - {name: label, type: "numeric(39,2)"}\n', "Redshift's numeric holds at most 38 digits",
    ),
    "an_encoding_carrying_sql": (
        _LABEL, '        - {name: label, type: varchar(64), encoding: "zstd, x int); DROP TABLE y; --"}\n',
        "column 'label': encoding 'zstd, x int); DROP TABLE y; --' is not one of Redshift's: raw, az64,",
    ),
    "a_default_that_is_sql": (
        _KEY, '        - {name: thingid, type: int, nullable: false, default: "0; DROP TABLE x"}\n',
        "column 'thingid': default '0; DROP TABLE x' is not a literal of type int",
    ),
    "a_default_of_another_type": (
        _KEY, "        - {name: thingid, type: int, nullable: false, default: abc}\n", "default 'abc' is not a literal of type int",
    ),
    "a_default_expression_on_a_text_column": (
        _LABEL, "        - {name: label, type: varchar(64), default: getdate()}\n",
        "default 'getdate()' is for a timestamp or date column, not varchar(64)",
    ),
    "a_text_default_wider_than_its_column": (
        _LABEL, "        - {name: label, type: varchar(2), default: abc}\n", "default 'abc' is 3 bytes, wider than varchar(2)",
    ),
    "a_dedupe_order_term_it_cannot_parse": (
        "      mode: upsert\n", "      mode: upsert\n      dedupe_order: [thingid sideways]\n",
        "dedupe_order term 'thingid sideways' is not '<column> [asc|desc] [nulls first|last]'",
    ),
    "a_dedupe_order_term_naming_no_column": (
        "      mode: upsert\n", "      mode: upsert\n      dedupe_order: [updated_at desc]\n",
        "dedupe_order term 'updated_at desc' names no declared column",
    ),
    "the_partition_column_the_loader_adds": (
        _LABEL, "        - {name: _partition_date, type: date}\n", "column '_partition_date': the name is the platform's own",
    ),
    "the_load_id_column_the_loader_adds": (
        _LABEL, "        - {name: _load_id, type: bigint}\n", "column '_load_id': the name is the platform's own",
    ),
    "a_column_declared_twice": (_LABEL, _LABEL + _LABEL, "column 'label' is declared twice"),
    "a_mixed_case_table_name": (
        "    - name: things\n", "    - name: Things\n", "table name: 'Things' has upper case: Redshift and Postgres fold",
    ),
    "a_mixed_case_column_name": (_LABEL, "        - {name: Label, type: varchar(64)}\n", "write it as 'label'"),
    "a_table_name_longer_than_63_bytes": (
        "    - name: things\n", f"    - name: {'t' * 64}\n", "is 64 bytes; a name is at most 63 bytes",
    ),
    "a_negative_lookback": (
        "      mode: upsert\n", "      mode: upsert\n      incremental: {cursor: thingid, lookback_days: -1}\n",
        "incremental.lookback_days is a number of days, 0 or more",
    ),
    "a_soft_delete_column_naming_no_column": (
        "      mode: upsert\n", "      mode: upsert\n      incremental: {cursor: thingid, soft_delete_column: deleted_at}\n",
        "incremental columns ['deleted_at'] are not declared columns",
    ),
    "deletes_soft_naming_no_column": (
        "      mode: upsert\n", "      mode: upsert\n      deletes: soft(deleted_at)\n",
        "deletes: soft(deleted_at) names a nullable timestamp column it declares",
    ),
}


@pytest.mark.parametrize("case", BAD_ENTRIES)
def test_an_entry_breaking_a_catalog_rule_is_an_error_of_that_entry_at_its_line(tmp_path, monkeypatch, case):
    old, new, reason = BAD_ENTRIES[case]
    entry = _entry()
    assert old in entry
    message, entry_line = _loading_error(tmp_path, monkeypatch, entry.replace(old, new, 1))
    assert entry_line in message, message
    assert reason in message, message


def _second_entry(name: str, first: str | None = None) -> str:
    entry = _entry()
    body = entry[entry.index("    - name: things") :]
    catalog = entry if first is None else entry.replace("    - name: things\n", f"    - name: {first}\n")
    return catalog + body.replace("    - name: things\n", f"    - name: {name}\n").replace("Things the", "More things the")


def test_a_table_declared_twice_is_an_error_of_the_second_entry_at_its_line(tmp_path, monkeypatch):
    message, second_line = _loading_error(tmp_path, monkeypatch, _second_entry("things"), entry=1)
    assert second_line in message and ":13" in second_line, message
    assert "table 'things': declared twice: the entry tables.0 already declares 'things'" in message


def test_two_tables_landing_in_one_folder_are_an_error_of_the_second_entry(tmp_path, monkeypatch):
    landed = _second_entry("more_things").replace("      source: {table: app.things}\n", "      rows_from: landing\n")
    logs = "      rows_from: landing\n      partitioning: daily\n      structuring: {format: combined_log, landing_folder: things}\n"
    columns = "        - {name: thingid, type: int, nullable: false}\n        - {name: label, type: varchar(64)}\n"
    log_columns = "        - {name: thingid, type: varchar(48), nullable: false, from_field: line_id}\n" \
        "        - {name: label, type: varchar(64), from_field: path}\n"
    first, second = landed.split("    - name: more_things\n")
    second = second.replace("      rows_from: landing\n      partitioning: whole_table\n", logs).replace(columns, log_columns)
    second = second.replace("mode: upsert", "mode: replace")
    message, second_line = _loading_error(tmp_path, monkeypatch, first + "    - name: more_things\n" + second, entry=1)
    assert second_line in message, message
    assert "table 'more_things': its landing folder landing/things/ is also the landing folder of 'things'" in message


def test_every_name_derived_from_the_shipped_catalog_is_distinct_and_fits_63_bytes():
    from warehouse_platform.sql.derived_names import derived_name_collisions, derived_names

    specs = load_catalog()
    assert derived_name_collisions(specs) == []
    for spec in specs:
        for kind, name in derived_names(spec).items():
            if kind != "landing folder":
                assert all(len(part.encode()) <= 63 for part in name.split(".")), (kind, name)


def test_dg_check_defs_fails_naming_the_entry_and_line_of_a_type_carrying_sql(tmp_path):
    """What `make validate` runs: the exit status and the entry's line, before anything loads."""
    write_catalog_project(tmp_path, _entry().replace(_LABEL, '        - {name: label, type: "int); DROP TABLE x; --"}\n'))
    result = _dg(tmp_path, "check", "defs")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "attributes.tables.0 at" in output and "defs.yaml:4" in output, output
    assert "type 'int); DROP TABLE x; --': not a type the platform knows" in output, output


# A table a user adds (daily, incremental with a longer lookback than any shipped table), and its
# dbt source, as "Add a table" says.
ADDED_ENTRY = """
    - name: rentals
      description: Rentals of the application's films, by the day they last changed.
      source: {table: app.rentals}
      partitioning: {daily_by: updated_at}
      columns:
        - {name: rental_id, type: bigint, nullable: false}
        - {name: amount, type: "numeric(5,2)", default: 0}
        - {name: status, type: varchar(16), default: open}
        - {name: updated_at, type: timestamp, nullable: false, default: getdate()}
      primary_key: [rental_id]
      mode: upsert
      dedupe_order: [updated_at desc nulls last]
      incremental: {cursor: updated_at, lookback_days: 5}
"""
ADDED_SOURCE = "\n      - name: rentals\n        description: Rentals.\n"
# The tests that read the project's own catalog (the others write catalogs of their own).
READING_THE_CATALOG = [
    "warehouse_platform_tests/test_catalog.py::test_the_catalog_holds_the_shipped_raw_tables_with_their_load_specs",
    "warehouse_platform_tests/test_catalog.py::test_catalog_tables_and_dbt_raw_data_sources_are_the_same_set",
    "warehouse_platform_tests/test_catalog.py::test_the_code_location_serves_what_the_catalog_declares",
    "warehouse_platform_tests/test_catalog.py::test_every_name_derived_from_the_shipped_catalog_is_distinct_and_fits_63_bytes",
    "warehouse_platform_tests/test_catalog.py::test_the_catalog_file_is_the_one_in_the_defs_folder",
    "warehouse_platform_tests/test_automation.py::test_daily_schedule_requests_yesterday_then_the_incremental_tables_lookback_days",
]


def test_a_catalog_with_an_added_table_passes_the_catalog_tests(tmp_path):
    """Tests take their expectations from the catalog: a copy of the project with one more table
    (and its dbt source) passes the tests that read the catalog, run from that copy."""
    import shutil

    copy = tmp_path / "project"
    skipped = shutil.ignore_patterns(".git", ".venv", ".platform", "target", "__pycache__", ".ruff_cache", "*.egg-info")

    def ignore(directory, names):
        # dbt's logs folders, not the package warehouse_platform/logs (without it the copy imported
        # that package from wherever else Python found one).
        return skipped(directory, names) | ({"logs"} & set(names) if Path(directory).name != "warehouse_platform" else set())

    shutil.copytree(PROJECT_ROOT, copy, ignore=ignore)
    catalog = copy / CATALOG_PATH.relative_to(PROJECT_ROOT)
    catalog.write_text(catalog.read_text().rstrip("\n") + "\n" + ADDED_ENTRY)
    sources = copy / "dbt_project" / "models" / "sources.yml"
    marker = "    tables:\n"
    text = sources.read_text()
    raw_data_tables = text.index(marker, text.index("- name: raw_data")) + len(marker)
    sources.write_text(text[:raw_data_tables] + ADDED_SOURCE.lstrip("\n") + text[raw_data_tables:])
    # The outer run's pytest options (PYTEST_ADDOPTS: its --basetemp, a parent of this copy) are
    # not the inner run's: it gets its own basetemp below.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env.update(PYTHONPATH=str(copy), PLATFORM_STATE_DIR=str(tmp_path / "state"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'bt'}", *READING_THE_CATALOG],
        cwd=copy, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"{len(READING_THE_CATALOG)} passed" in result.stdout


def test_defaults_written_unquoted_are_the_literals_they_look_like(tmp_path, monkeypatch):
    """YAML reads `2015-01-01` as a date, `false` as a boolean and `1.5` as a number: each is
    taken as the text written, checked against its column's type and loads through Dagster's loader."""
    columns = (
        "        - {name: since, type: date, default: 2015-01-01}\n"
        "        - {name: seen_at, type: timestamp, default: 2015-01-01 10:00:00}\n"
        "        - {name: active, type: boolean, default: false}\n"
        "        - {name: price, type: 'numeric(5,2)', default: 1.5}\n"
    )
    catalog = _entry().replace(_LABEL, _LABEL + columns)
    write_catalog_project(tmp_path, catalog)
    monkeypatch.syspath_prepend(str(tmp_path))
    dg.load_from_defs_folder(path_within_project=tmp_path)
    [spec] = RawTableCatalog.model_validate(yaml.safe_load(catalog)["attributes"]).specs
    assert [(c.name, c.default) for c in spec.columns[2:]] == [
        ("since", "2015-01-01"), ("seen_at", "2015-01-01 10:00:00"), ("active", "false"), ("price", "1.5"),
    ]


@pytest.mark.parametrize("value", [100, 5 << 20, 2.5, True])
def test_max_line_bytes_outside_one_kib_to_four_mib_is_an_error_of_the_entry_and_the_yaml_schema_bounds_it(value):
    from dataclasses import replace

    from warehouse_platform.catalog import table
    from warehouse_platform.components.raw_table_catalog import StructuringEntry
    from warehouse_platform.contract import catalog_rules
    from warehouse_platform.contract.log_formats import MAX_LINE_BYTES_BOUNDS

    spec = table("app_events")
    assert spec.structuring.max_line_bytes == 1 << 20  # the default: 1 MiB
    assert catalog_rules.table_problems(spec) == []
    wrong = replace(spec, structuring=replace(spec.structuring, max_line_bytes=value))
    assert catalog_rules.table_problems(wrong) == [
        f"structuring.max_line_bytes is {value!r}: a whole number of bytes from 1,024 to 4,194,304"
    ]
    schema = StructuringEntry.model_json_schema()["properties"]["max_line_bytes"]
    assert (schema["minimum"], schema["maximum"]) == MAX_LINE_BYTES_BOUNDS == (1024, 4 << 20)
