"""History is configuration: each table's first day comes from the catalog (a catalog-wide
`history_start:` and a per-table one), and a table declared with a first day in 2015 loads days
of 2015, through a real extract run and through a landed file, while a day before its first day
is refused everywhere (contract/history.py)."""

import gzip
from dataclasses import replace
from datetime import date

import dagster as dg
import pytest
import yaml

from warehouse_platform.automation.schedules import lookback_requests
from warehouse_platform.catalog import CATALOG_PATH, load_catalog
from warehouse_platform.contract.table_spec import RowsFrom
from warehouse_platform.conventions.partitions import daily_partitions
from warehouse_platform_tests.platform_runs import platform_definitions, run_request, step_failure_message

# A rental shop's table whose history starts years before the platform's other tables.
RENTAL_ENTRY = """\
- name: rental
  description: Rentals of the shop, one row per rental, by the day it was rented.
  source: {table: app.rental}
  partitioning: {daily_by: rented_at}
  history_start: 2015-03-01
  columns:
    - {name: rental_id, type: int, nullable: false, description: Rental id.}
    - {name: rented_at, type: timestamp, nullable: false, description: When it was rented.}
  primary_key: [rental_id]
  mode: replace
"""

RENTAL_SOURCE = """
CREATE TABLE app.rental (rental_id int PRIMARY KEY, rented_at timestamp NOT NULL);
INSERT INTO app.rental VALUES (1, '2015-02-28 23:00'), (2, '2015-03-01 00:00'), (3, '2015-03-01 23:59:59'),
                              (4, '2015-03-02 12:00');
"""


def _create_rental_source(platform_env) -> None:
    conn = platform_env["source"].connect()
    with conn, conn.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS app")
        cur.execute(RENTAL_SOURCE)
    conn.close()


def _catalog(tmp_path, entries: str = RENTAL_ENTRY, top: dict | None = None):
    document = yaml.safe_load(CATALOG_PATH.read_text())
    document["attributes"]["tables"] += yaml.safe_load(entries)
    document["attributes"].update(top or {})
    path = tmp_path / "defs.yaml"
    # Written as a user writes it: the days unquoted (yaml.safe_dump would quote them).
    path.write_text(yaml.safe_dump(document, sort_keys=False).replace("'2015-03-01'", "2015-03-01")
                    .replace("'2014-06-01'", "2014-06-01"))
    return load_catalog(path)




def test_a_tables_first_day_is_its_own_history_start_else_the_catalogs(tmp_path):
    tables = {s.name: s for s in _catalog(tmp_path, top={"history_start": "2014-06-01"})}
    assert tables["rental"].history_start == date(2015, 3, 1)
    assert tables["session_timestamp"].history_start == date(2014, 6, 1)


def test_without_a_catalog_history_start_the_shipped_first_day_holds(tmp_path):
    shipped = {s.name: s.history_start for s in load_catalog()}
    tables = {s.name: s for s in _catalog(tmp_path)}
    assert tables["session_timestamp"].history_start == shipped["session_timestamp"]


def test_a_whole_table_with_a_history_start_is_refused_naming_the_entry(tmp_path):
    entry = RENTAL_ENTRY.replace("{daily_by: rented_at}", "whole_table")
    with pytest.raises(ValueError, match="rental: history_start is a daily table's first day"):
        _catalog(tmp_path, entry)


def test_a_history_start_that_is_not_a_day_is_refused(tmp_path):
    with pytest.raises(ValueError, match="history_start"):
        _catalog(tmp_path, RENTAL_ENTRY.replace("2015-03-01", "March 2015"))


def test_the_partitions_start_on_the_earliest_first_day_and_each_table_keeps_its_own(tmp_path):
    tables = _catalog(tmp_path)
    days = daily_partitions(tables)
    assert days.get_first_partition_key() == "2015-03-01"
    # The day's run of 2015 selects the tables whose history has begun; the others are not asked.
    [request] = lookback_requests("2015-03-01", tables)
    assert set(request.asset_selection) == {dg.AssetKey(["stage", "raw_data", "rental"]), dg.AssetKey(["raw_data", "rental"])}
    # Once every table's history has begun, the run is the whole job again.
    shipped_start = next(s for s in tables if s.name == "session_timestamp").history_start.isoformat()
    assert lookback_requests(shipped_start, tables)[0].asset_selection is None


def test_days_of_2015_load_through_a_real_run_and_a_day_before_the_first_is_refused(platform_env, tmp_path):
    _create_rental_source(platform_env)
    tables = _catalog(tmp_path)
    defs = platform_definitions(tables)
    with dg.instance_for_test() as instance:
        for day in ("2015-03-01", "2015-03-02"):
            [request] = lookback_requests(day, tables)
            assert run_request(defs, instance, request).success
        # A table whose history starts later is refused for a 2015 day, naming its first day.
        session = next(s for s in tables if s.name == "session_timestamp")
        early = dg.RunRequest(partition_key="2015-03-01", asset_selection=[
            dg.AssetKey(["stage", "raw_data", "session_timestamp"]), dg.AssetKey(["raw_data", "session_timestamp"])])
        refused = run_request(defs, instance, early, raise_on_error=False)
    assert not refused.success
    assert (f"day 2015-03-01 is before the first partition of raw_data.session_timestamp "
            f"(history_start {session.history_start.isoformat()})") in step_failure_message(refused)
    assert platform_env["warehouse"].query(
        "SELECT rental_id, _partition_date::text FROM raw_data.rental ORDER BY 1") == [
        (2, "2015-03-01"), (3, "2015-03-01"), (4, "2015-03-02")]
    # 2015-02-28 precedes the table's history: no partition exists for it.
    assert not daily_partitions(tables).has_partition_key("2015-02-28")


def _landed_catalog(tmp_path):
    """session_timestamp fed by landed CSV files, its history starting in 2015."""
    tables = _catalog(tmp_path, RENTAL_ENTRY)  # a 2015 table keeps 2015 partitions in the catalog
    return tuple(
        replace(s, rows_from=RowsFrom.LANDING, history_start=date(2015, 1, 1)) if s.name == "session_timestamp" else s
        for s in tables
    )


def _drop(root, relative: str, text: str):
    path = root / "landing" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode(), mtime=0))


def _tick(defs, instance):
    sensor = defs.get_sensor_def("landing_files")
    with dg.build_sensor_context(instance=instance, resources={"stage": defs.resources["stage"]}) as context:
        return sensor(context)


def test_a_landed_file_of_2015_loads_and_one_before_the_tables_first_day_is_never_loaded(platform_env, tmp_path):
    tables = _landed_catalog(tmp_path)
    defs = platform_definitions(tables)
    root = platform_env["stage_root"]
    _drop(root, "session_timestamp/day=2015-01-01/a.csv.gz", "sessionid,ts\n" + "a" * 32 + ",2015-01-01 10:00:00\n")
    _drop(root, "session_timestamp/day=2014-12-31/old.csv.gz", "sessionid,ts\n" + "b" * 32 + ",2014-12-31 10:00:00\n")
    with dg.instance_for_test() as instance:
        result = _tick(defs, instance)
        [request] = result.run_requests
        assert request.partition_key == "2015-01-01"
        assert run_request(defs, instance, request).success
        skipped = _tick(defs, instance)
    message = skipped.skip_message if isinstance(skipped, dg.SkipReason) else skipped.skip_reason.skip_message
    assert ("landing/session_timestamp/day=2014-12-31/old.csv.gz: day 2014-12-31 is before the first partition of "
            "raw_data.session_timestamp (history_start 2015-01-01); it is never loaded") in message
    assert platform_env["warehouse"].query("SELECT sessionid, ts::text FROM raw_data.session_timestamp") == [
        ("a" * 32, "2015-01-01 10:00:00")]


def _landed_csv_catalog(tmp_path):
    """session_timestamp fed by landed CSV files whose rows are of the folder's day by `ts`."""
    tables = _catalog(tmp_path, RENTAL_ENTRY)
    return tuple(
        replace(s, rows_from=RowsFrom.LANDING, source=None, landed_day_column="ts") if s.name == "session_timestamp" else s
        for s in tables
    )


def test_a_landed_csv_file_with_a_row_of_another_day_is_refused_naming_file_line_and_day(platform_env, tmp_path):
    defs = platform_definitions(_landed_csv_catalog(tmp_path))
    root = platform_env["stage_root"]
    rows = [f"{'a' * 24}{i:08d},2026-11-05 {i % 24:02d}:00:00" for i in range(5)]
    rows[3] = "c" * 32 + ",2015-11-05 09:00:00"  # line 5 (the header is line 1): a row of 2015
    _drop(root, "session_timestamp/day=2026-11-05/mixed.csv.gz", "sessionid,ts\n" + "\n".join(rows) + "\n")
    with dg.instance_for_test() as instance:
        [request] = _tick(defs, instance).run_requests
        result = run_request(defs, instance, request, raise_on_error=False)
    assert not result.success
    assert ("landing/session_timestamp/day=2026-11-05/mixed.csv.gz line 5, column ts: a row of day 2015-11-05 in a "
            "file landed for day 2026-11-05") in step_failure_message(result)
    [(exists,)] = platform_env["warehouse"].query("SELECT to_regclass('raw_data.session_timestamp') IS NOT NULL")
    assert not exists or platform_env["warehouse"].query("SELECT count(*) FROM raw_data.session_timestamp") == [(0,)]


def _events(day_of_ts: str, n: int) -> bytes:
    import json

    return "".join(
        json.dumps({"event_id": f"e-{day_of_ts}-{i}", "event": "page_view", "user_id": i, "ts": f"{day_of_ts}T0{i}:00:00Z",
                    "properties": {}}) + "\n" for i in range(n)
    ).encode()


def _land_log(root, day: str, name: str, data: bytes):
    path = root / "landing" / "logs" / "app_events" / f"day={day}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_a_log_file_of_2015_under_a_2026_folder_is_refused_naming_file_line_and_day(platform_env):
    defs = platform_definitions()
    root = platform_env["stage_root"]
    _land_log(root, "2026-11-05", "server-a.jsonl", _events("2026-11-05", 3))
    _land_log(root, "2026-11-05", "old.jsonl", _events("2015-11-05", 4))
    with dg.instance_for_test() as instance:
        [request] = [r for r in _tick(defs, instance).run_requests if r.partition_key == "2026-11-05"]
        result = run_request(defs, instance, request, raise_on_error=False)
    assert not result.success
    assert ("landing/logs/app_events/day=2026-11-05/old.jsonl line 1, column event_ts: 4 lines of day 2015-11-05 in "
            "files landed for day 2026-11-05") in step_failure_message(result)


def test_log_lines_a_day_across_midnight_of_their_folders_day_load(platform_env):
    """A session going on past midnight (UTC) and a send retried after midnight are of their
    folder's day: lines up to a day away load."""
    defs = platform_definitions()
    root = platform_env["stage_root"]
    _land_log(root, "2026-11-05", "a.jsonl", _events("2026-11-04", 2) + _events("2026-11-05", 2) + _events("2026-11-06", 2))
    with dg.instance_for_test() as instance:
        [request] = [r for r in _tick(defs, instance).run_requests if r.partition_key == "2026-11-05"]
        assert run_request(defs, instance, request).success
    assert platform_env["warehouse"].query("SELECT count(*) FROM raw_data.app_events") == [(6,)]


def test_a_rows_day_is_judged_against_its_folders_day_with_the_given_tolerance():
    from warehouse_platform.contract.history import day_not_of_folder

    assert day_not_of_folder("2026-11-05 23:59:59", "2026-11-05") is None
    assert day_not_of_folder("2026-11-06 00:00:00", "2026-11-05") == "2026-11-06"
    assert day_not_of_folder("2026-11-06 00:00:00", "2026-11-05", tolerance_days=1) is None
    assert day_not_of_folder("2026-11-03 23:59:59", "2026-11-05", tolerance_days=1) == "2026-11-03"
    assert day_not_of_folder("2015-11-05", "2026-11-05", tolerance_days=1) == "2015-11-05"
    assert day_not_of_folder("not a day", "2026-11-05") is None  # the load reports what is not a date


def test_the_athena_lines_table_projects_days_from_the_tables_first_day():
    from warehouse_platform.catalog import table
    from warehouse_platform.logs.structuring_sql import athena_lines_table_sql

    spec = replace(table("app_events"), history_start=date(2015, 1, 1))
    assert "'2015-01-01,NOW'" in athena_lines_table_sql(spec, "landing", "s3://stage/landing/logs/app_events")


DG_ENTRY = """\
type: warehouse_platform.components.raw_table_catalog.RawTableCatalog
attributes:
  history_start: 2015-01-01
  tables:
    - name: rental
      description: Rentals.
      source: {{table: app.rental}}
      partitioning: {{daily_by: rented_at}}
      history_start: {start}
      columns:
        - {{name: rental_id, type: int, nullable: false}}
        - {{name: rented_at, type: timestamp, nullable: false}}
      primary_key: [rental_id]
"""


def _dg_check_yaml(project) -> tuple[int, str]:
    import os
    import subprocess
    import sys
    from pathlib import Path

    from warehouse_platform.settings import PROJECT_ROOT

    env = {**os.environ, "DAGSTER_HOME": str(project), "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(project)])}
    result = subprocess.run([str(Path(sys.executable).parent / "dg"), "check", "yaml"], cwd=project,
                            capture_output=True, text=True, timeout=300, env=env)
    return result.returncode, result.stdout + result.stderr


def test_dg_check_yaml_takes_unquoted_days_and_points_at_the_line_of_one_that_is_not_a_day(tmp_path):
    from warehouse_platform_tests.catalog_fixtures import write_catalog_project

    write_catalog_project(tmp_path / "good", DG_ENTRY.format(start="2015-03-01"))
    code, output = _dg_check_yaml(tmp_path / "good")
    assert code == 0, output
    write_catalog_project(tmp_path / "bad", DG_ENTRY.format(start="March 2015"))
    code, output = _dg_check_yaml(tmp_path / "bad")
    assert code != 0 and "9 |       history_start: March 2015" in output, output


def test_load_table_through_the_cli_loads_days_of_2015_and_refuses_a_day_before_the_first(
        platform_env, tmp_path, monkeypatch, capsys):
    """`warehouse-platform load --table rental --from 2015-03-01 --to 2015-03-02` on a project
    whose catalog declares the 2015 table (the CLI reads the catalog file it is pointed at)."""
    from warehouse_platform import catalog, cli, definitions

    _create_rental_source(platform_env)
    tables = _catalog(tmp_path)
    build = definitions.build_definitions
    monkeypatch.setattr(catalog, "CATALOG_PATH", tmp_path / "defs.yaml")
    monkeypatch.setattr(definitions, "build_definitions", lambda: build(tables))
    monkeypatch.setenv("DAGSTER_HOME", "restored-after-the-test")
    assert cli.main(["load", "--table", "rental", "--from", "2015-03-01", "--to", "2015-03-02", "--no-analytics"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "no failures", out
    assert platform_env["warehouse"].query(
        "SELECT rental_id, _partition_date::text FROM raw_data.rental ORDER BY 1") == [
        (2, "2015-03-01"), (3, "2015-03-01"), (4, "2015-03-02")]
    with pytest.raises(SystemExit) as refused:
        cli.main(["load", "--table", "rental", "--from", "2015-02-28", "--to", "2015-03-01"])
    assert refused.value.code == 2
    assert "before raw_data.rental's first day, its history_start 2015-03-01" in capsys.readouterr().err
