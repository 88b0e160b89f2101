"""A CLI for every job (`load`, `build-analytics`, `check`, `backfill`, `dev`), run through its
main() against the embedded Postgres and the platform's Dagster home: exit 1 with one line per
failure when a run fails or an ERROR check fails, 2 on a usage error; and a table or model that
fails holds back only what reads it. Expectations come from the catalog and the asset graph, so
a table someone adds does not break them."""

from datetime import date, timedelta

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import RunsFilter

from warehouse_platform import cli, settings
from warehouse_platform.catalog import load_catalog
from warehouse_platform.contract.table_spec import RowsFrom
from warehouse_platform.conventions.asset_keys import raw_asset_key, stage_asset_key
from warehouse_platform.definitions import build_definitions
from warehouse_platform.sample_data.session_generator import GeneratorConfig
from warehouse_platform.transform.assets import dbt_failures
from warehouse_platform_tests.platform_runs import seed

DAY = "2026-11-05"
ANALYTICS = dg.AssetSelection.groups("analytics", "exports")


@pytest.fixture
def cli_env(platform_env, monkeypatch):
    """The platform on the embedded Postgres, one day of source data, the CLI's Dagster home
    under the test's state folder."""
    monkeypatch.setenv("DAGSTER_HOME", "restored-after-the-test")
    seed(platform_env["source"], date.fromisoformat(DAY), 1, GeneratorConfig(scale=0.1))
    return platform_env


def _cli(capsys, *args: str) -> tuple[int, list[str]]:
    """main()'s exit status (argparse's usage errors included) and the lines it printed."""
    try:
        code = cli.main(list(args))
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).splitlines()


def _execute(endpoint, sql: str) -> None:
    conn = endpoint.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def _runs(job_name: str | None = None) -> list:
    with dg.DagsterInstance.from_config(str(settings.dagster_home())) as instance:
        return instance.get_runs(RunsFilter(job_name=job_name) if job_name else None)


def _materialized_by(runs) -> set[dg.AssetKey]:
    with dg.DagsterInstance.from_config(str(settings.dagster_home())) as instance:
        return {
            record.dagster_event.asset_key for run in runs
            for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        }


def _downstream_analytics(graph, *tables: str) -> set[dg.AssetKey]:
    held = dg.AssetSelection.assets(*(dg.AssetKey(["raw_data", t]) for t in tables)).downstream()
    return (ANALYTICS & held).resolve(graph)


def _daily_extracted() -> list:
    return [s for s in load_catalog() if s.partitioned and s.rows_from == RowsFrom.EXTRACTION and s.source]


def test_load_a_daily_table_by_days_loads_that_table_only_then_the_analytics_that_read_it(cli_env, capsys):
    [spec, *others] = _daily_extracted()
    code, lines = _cli(capsys, "load", "--table", spec.name, "--from", DAY, "--to", DAY)
    assert code == 0, lines
    assert lines[-1] == "no failures"
    warehouse = cli_env["warehouse"]
    [(rows,)] = warehouse.query(f'SELECT count(*) FROM "{spec.schema}"."{spec.name}" WHERE _partition_date = %s', (DAY,))
    assert rows > 0
    [load_run] = _runs("extract_and_load_day")
    assert load_run.tags["dagster/partition"] == DAY
    assert load_run.asset_selection == {dg.AssetKey(["stage", spec.schema, spec.name]), dg.AssetKey([spec.schema, spec.name])}
    # Then what reads it, and nothing else: built by a run of build_analytics, not left stale.
    graph = build_definitions().resolve_asset_graph()
    [analytics_run] = _runs("build_analytics")
    assert analytics_run.asset_selection == _downstream_analytics(graph, spec.name)
    assert _materialized_by([analytics_run]) == _downstream_analytics(graph, spec.name)


def test_load_a_whole_table_once(cli_env, capsys):
    [spec, *_] = [s for s in load_catalog() if not s.partitioned and s.rows_from == RowsFrom.EXTRACTION]
    code, lines = _cli(capsys, "load", "--table", spec.name, "--no-analytics")
    assert code == 0, lines
    [(rows,)] = cli_env["warehouse"].query(f'SELECT count(*) FROM "{spec.schema}"."{spec.name}"')
    assert rows > 0
    [run] = _runs()
    assert run.job_name == "load_whole_tables" and "dagster/partition" not in run.tags
    assert run.asset_selection == {dg.AssetKey(["stage", spec.schema, spec.name]), dg.AssetKey([spec.schema, spec.name])}


def test_load_a_landed_table_by_days_stages_the_files_landed_for_each_day(cli_env, capsys):
    from warehouse_platform.sample_data.log_generator import generate_logs
    from warehouse_platform_tests.platform_runs import land_in_folder

    spec = next(s for s in load_catalog() if s.rows_from == RowsFrom.LANDING and s.partitioned)
    logs = generate_logs([date.fromisoformat(DAY)], GeneratorConfig(scale=0.05), malformed=False)
    land_in_folder(cli_env["stage_root"], logs.files)
    code, lines = _cli(capsys, "load", "--table", spec.name, "--from", DAY, "--to", DAY, "--no-analytics")
    assert code == 0, lines
    [(rows,)] = cli_env["warehouse"].query(f'SELECT count(*) FROM "{spec.schema}"."{spec.name}" WHERE _partition_date = %s', (DAY,))
    assert rows > 0
    # A day nothing landed for: nothing to load, said as a failure.
    code, lines = _cli(capsys, "load", "--table", spec.name, "--from", "2026-11-06", "--to", "2026-11-06", "--no-analytics")
    assert code == 1 and lines[0].startswith(f"failed load {spec.name} 2026-11-06: no landed files under "), lines


def test_usage_errors_exit_2_with_the_reason_and_run_nothing(cli_env, capsys):
    whole = next(s for s in load_catalog() if not s.partitioned)
    daily = _daily_extracted()[0]
    for args, reason in [
        (["load", "--table", "no_such_table"], "no table 'no_such_table' in the catalog"),
        (["load", "--table", whole.name, "--from", DAY, "--to", DAY], f"{whole.qualified_name} is loaded whole"),
        (["load", "--table", daily.name], f"{daily.qualified_name} is loaded by days: give --from and --to"),
        (["backfill", "--from", DAY, "--to", DAY, "--table", whole.name], "is not a daily table fed by extraction"),
        (["backfill", "--from", "2026-11-06", "--to", DAY], "is before --from"),
        (["check", "--from", DAY], "give both --from and --to"),
        (["load", "--table", daily.name, "--from", (daily.history_start - timedelta(days=1)).isoformat(), "--to", DAY],
         f"is before {daily.qualified_name}'s first day, its history_start {daily.history_start}"),
    ]:
        code, lines = _cli(capsys, *args)
        assert code == 2 and reason in lines[-1], (args, lines)
    assert _runs() == []


def test_a_failed_error_check_makes_backfill_and_check_exit_1_naming_check_and_day(cli_env, capsys):
    """Tampered raw rows: the day's load is a no-op (its files are loaded), but source_parity,
    which runs with it, fails. Before, backfill exited 0 whatever the checks said."""
    spec = next(s for s in _daily_extracted() if s.name == "session_timestamp")
    assert _cli(capsys, "backfill", "--from", DAY, "--to", DAY, "--table", spec.name, "--no-analytics")[0] == 0
    _execute(cli_env["warehouse"],
        f'UPDATE "{spec.schema}"."{spec.name}" SET ts = ts + interval \'1 second\' '
        f'WHERE sessionid = (SELECT min(sessionid) FROM "{spec.schema}"."{spec.name}")'
    )
    expected = f"failed {spec.schema}/{spec.name}:source_parity {DAY}: "
    code, lines = _cli(capsys, "backfill", "--from", DAY, "--to", DAY, "--table", spec.name, "--no-analytics")
    assert code == 1, lines
    assert [line for line in lines if line.startswith("failed ")] == [next(l for l in lines if l.startswith(expected))]
    assert lines[-1] == "1 failures"

    code, lines = _cli(capsys, "check", "--table", spec.name, "--from", DAY, "--to", DAY)
    assert code == 1, lines
    [failed] = [line for line in lines if line.startswith("failed ")]
    assert failed.startswith(expected) and "1" in failed[len(expected):]
    # A check run loads nothing: a checks-only run of the code location, for that day.
    [check_run] = [r for r in _runs() if r.asset_check_selection]
    assert check_run.asset_selection == frozenset() and check_run.tags["dagster/partition"] == DAY
    assert {c.asset_key for c in check_run.asset_check_selection} <= {
        dg.AssetKey([spec.schema, spec.name]), dg.AssetKey(["stage", spec.schema, spec.name])}

    # Without days: every check of the table, a per-day check over every day it holds.
    code, lines = _cli(capsys, "check", "--table", spec.name)
    assert code == 1, lines
    assert any(line.startswith(expected) for line in lines), lines


def test_a_table_that_fails_stops_neither_the_other_tables_of_its_day_nor_the_models_that_do_not_read_it(cli_env, capsys):
    """The source loses a declared column of one daily table: that table's step fails naming the
    column, the day's other tables load, and the analytics built after hold back only the
    models that read it."""
    broken = next(s for s in _daily_extracted() if s.name == "session_transaction")
    _execute(cli_env["source"], "ALTER TABLE app.transactions RENAME COLUMN amount TO amount_cents")
    code, lines = _cli(capsys, "backfill", "--from", DAY, "--to", DAY)
    assert code == 1, lines
    failed = [line for line in lines if line.startswith("failed ")]
    assert failed and all(f"extract_and_load_day {DAY}" in line for line in failed)
    assert any("session_transaction" in line and "amount" in line for line in failed), failed
    warehouse = cli_env["warehouse"]
    for spec in _daily_extracted():
        if spec is broken:
            continue
        [(rows,)] = warehouse.query(f'SELECT count(*) FROM "{spec.schema}"."{spec.name}" WHERE _partition_date = %s', (DAY,))
        assert rows > 0, spec.name
    graph = build_definitions().resolve_asset_graph()
    held = _downstream_analytics(graph, broken.name)
    for key in held:
        assert f"not built: {key.to_user_string()} (it reads a table that did not load)" in lines
    others = _downstream_analytics(graph, *(s.name for s in _daily_extracted())) - held
    assert _materialized_by(_runs("build_analytics")) == others


def test_build_analytics_a_whole_table_or_a_model_that_fails_holds_back_only_what_reads_it(cli_env, capsys):
    """Before, one run of build_analytics: a whole table failing skipped every dbt model. Now the
    whole tables load first; what reads a failed one is held back, the rest builds; and a dbt
    model that errors fails alone (dbt builds the others, their exports follow)."""
    code, lines = _cli(capsys, "build-analytics")
    assert code == 0, lines
    graph = build_definitions().resolve_asset_graph()
    everything = ANALYTICS.resolve(graph)
    assert everything <= _materialized_by(_runs("build_analytics"))

    # A whole table whose source lost a declared column.
    _execute(cli_env["source"], "ALTER TABLE app.users RENAME COLUMN country TO country_code")
    before = {r.run_id for r in _runs()}
    code, lines = _cli(capsys, "build-analytics")
    assert code == 1, lines
    failed = [line for line in lines if line.startswith("failed ")]
    assert failed and all("users" in line and "country" in line for line in failed), failed
    held = _downstream_analytics(graph, "users")
    assert held, "some model reads raw_data.users"
    new_runs = [r for r in _runs() if r.run_id not in before]
    built = _materialized_by(new_runs)
    assert built & everything == everything - held
    assert dg.AssetKey(["raw_data", "channel"]) in built
    _execute(cli_env["source"], "ALTER TABLE app.users RENAME COLUMN country_code TO country")

    # A model that errors: the raw column it divides is text now (a model's own bug, to dbt).
    model = dg.AssetKey(["analytics", "http_status_daily"])
    _execute(cli_env["warehouse"], "ALTER TABLE raw_data.access_log ALTER COLUMN status TYPE text")
    before = {r.run_id for r in _runs()}
    code, lines = _cli(capsys, "build-analytics")
    assert code == 1, lines
    [failed] = [line for line in lines if line.startswith("failed ")]
    assert "step analytics_models: dbt build: model." in failed and "http_status_daily" in failed, failed
    assert "operator does not exist" in failed
    built = _materialized_by([r for r in _runs() if r.run_id not in before])
    broken = (dg.AssetSelection.assets(model).downstream() & ANALYTICS).resolve(graph)
    assert built & everything == everything - broken


def test_launched_as_the_ui_does_a_whole_table_that_fails_stops_no_model(cli_env):
    """The UI launches each job as one run. Before, the whole tables and the models were one job,
    so a whole table that failed to load skipped every dbt model in that run, also those that
    never read it. Now the whole tables are their own job: the failing one fails its own step
    (the other whole tables load), and build_analytics builds every model over what is loaded."""
    from warehouse_platform.instance.runs import run_code_location_job

    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    whole = [s for s in load_catalog() if not s.partitioned and s.rows_from == RowsFrom.EXTRACTION]
    assert len(whole) >= 2, "the shipped catalog has two whole tables fed by extraction"
    # No job holds both a table's load and a model: one run cannot make a table stop a model.
    for job in defs.resolve_all_job_defs():
        if job.name.startswith("__"):  # Dagster's own job of every asset, for the UI's "Materialize"
            continue
        keys = set(job.asset_layer.selected_asset_keys)
        assert not (keys & ANALYTICS.resolve(graph) and keys - ANALYTICS.resolve(graph)), job.name
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    with dg.instance_for_test() as instance:
        assert run_code_location_job(defs, "extract_and_load_day", instance, partition_key=DAY, run_config=quiet).success
        assert run_code_location_job(defs, "load_whole_tables", instance, run_config=quiet).success
        # A whole table whose source lost a declared column.
        _execute(cli_env["source"], "ALTER TABLE app.users RENAME COLUMN country TO country_code")
        tables = run_code_location_job(defs, "load_whole_tables", instance, run_config=quiet)
        assert not tables.success
        loaded = {e.asset_key for e in tables.get_asset_materialization_events()}
        assert loaded == {k for s in whole if s.name != "users" for k in (stage_asset_key(s), raw_asset_key(s))}
        analytics = run_code_location_job(defs, "build_analytics", instance, run_config=quiet)
        assert analytics.success
        assert {e.asset_key for e in analytics.get_asset_materialization_events()} == ANALYTICS.resolve(graph)


def test_dbt_failures_name_each_failed_node_with_the_first_line_of_its_message():
    results = [
        {"unique_id": "model.p.ok", "status": "success", "message": "SELECT 3"},
        {"unique_id": "model.p.bad", "status": "error",
         "message": 'Database Error in model bad (models/bad.sql)\n  column "status" does not exist\n  LINE 8: ...'},
        {"unique_id": "test.p.unique_x", "status": "fail", "message": "Got 2 results, configured to fail if != 0"},
        {"unique_id": "model.p.after_bad", "status": "skipped", "message": None},
        {"unique_id": "test.p.warned", "status": "warn", "message": "Got 1 result"},
    ]
    assert dbt_failures(results) == (
        'dbt build: model.p.bad: Database Error in model bad (models/bad.sql): column "status" does not exist; '
        "test.p.unique_x: Got 2 results, configured to fail if != 0"
    )
    assert dbt_failures(results[:1]) == ""


def test_dev_runs_dg_beside_this_interpreter_from_any_shell(monkeypatch, tmp_path):
    """Before, `dev` exec'd `dg` by name: without .venv/bin on PATH it crashed."""
    started = []
    monkeypatch.setenv("PATH", str(tmp_path))  # no dg, no dagster on it
    monkeypatch.setenv("PLATFORM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(cli, "_prepare_dagster_home", lambda: tmp_path)
    monkeypatch.setattr(cli.os, "chdir", lambda path: None)
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: started.append((path, argv)))
    monkeypatch.setattr(cli.os, "execvp", lambda path, argv: started.append((path, argv)), raising=False)
    cli.main(["dev", "--port", "3917"])
    [(program, argv)] = started
    assert argv[1:] == ["dev", "--port", "3917"]
    import os
    import sys
    from pathlib import Path

    assert Path(program).is_absolute() and os.access(program, os.X_OK), program
    assert Path(program).parent == Path(sys.executable).parent
    # dg starts `dagster` by name: the same folder leads PATH for it.
    assert os.environ["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
