"""A column added by on_new_column: add joins the table's contract: kept by the platform in the
warehouse (raw_data._added_columns, beside the columns the raw table really has), so every later
extract treats it as declared. Real Dagster runs of a daily table on the embedded Postgres
(source and warehouse)."""

import logging
import re
from dataclasses import replace

import dagster as dg

from warehouse_platform import environment
from warehouse_platform.contract.table_spec import Column, LoadMode, OnNewColumn, SourceSpec, TableSpec
from warehouse_platform.conventions.asset_keys import raw_asset_key, stage_asset_key
from warehouse_platform_tests.key_truth_harness import execute
from warehouse_platform_tests.platform_runs import platform_definitions

DAY1, DAY2 = "2026-11-01", "2026-11-02"

SIGNUPS = TableSpec(
    schema="raw_data", name="signups", description="A daily table whose source gains a column, then loses it.",
    columns=(Column("id", "int", nullable=False), Column("name", "varchar(16)"), Column("at", "timestamp", nullable=False)),
    primary_key=("id",), partitioned=True, source=SourceSpec(table="app.signups", day_column="at"), mode=LoadMode.REPLACE,
    on_new_column=OnNewColumn.ADD,
)


def _source(env, *statements):
    execute(env["source"], *statements)


def _seed(env):
    _source(env, "CREATE SCHEMA IF NOT EXISTS app", "CREATE TABLE app.signups (id int, name varchar(16), at timestamp)",
            f"INSERT INTO app.signups VALUES (1, 'a', '{DAY1} 10:00'), (2, 'b', '{DAY1} 11:00'), (3, 'c', '{DAY2} 09:00')")


def _load_day(spec, instance, day):
    return platform_definitions([spec]).resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=day, asset_selection=[stage_asset_key(spec), raw_asset_key(spec)],
        raise_on_error=False,
    )


def _failure(result) -> str:
    return " ".join(str(e.step_failure_data.error) for e in result.get_step_failure_events())


def _rows(env):
    return env["warehouse"].query("SELECT id, name, email FROM raw_data.signups ORDER BY id")


def _gain_email(env, instance, spec=SIGNUPS):
    """Day 1 loaded before the source had email; the source gains it; day 2's load adds it."""
    assert _load_day(spec, instance, DAY1).success
    _source(env, "ALTER TABLE app.signups ADD COLUMN email varchar(40)",
            "UPDATE app.signups SET email = 'user' || id || '@example.com'")
    result = _load_day(spec, instance, DAY2)
    assert result.success, _failure(result)


def test_a_column_added_by_on_new_column_add_then_dropped_by_the_source_fails_the_next_load_of_any_day_naming_it(platform_env):
    _seed(platform_env)
    with dg.instance_for_test() as instance:
        _gain_email(platform_env, instance)
        assert _load_day(SIGNUPS, instance, DAY1).success
        before = _rows(platform_env)
        assert before == [(1, "a", "user1@example.com"), (2, "b", "user2@example.com"), (3, "c", "user3@example.com")]
        _source(platform_env, "ALTER TABLE app.signups DROP COLUMN email")
        for day in (DAY1, DAY2):
            result = _load_day(SIGNUPS, instance, day)
            assert not result.success, f"{day} loaded NULL into the added column"
            message = _failure(result)
            assert re.search(r"raw_data\.signups.*'email'.*app\.signups", message), message
            assert "DROP COLUMN" in message, message  # says how to end the column deliberately
    assert _rows(platform_env) == before  # nothing staged, nothing loaded


def test_a_reload_of_an_older_day_after_the_add_keeps_the_added_columns_values_and_the_ui_shows_the_column(platform_env):
    _seed(platform_env)
    with dg.instance_for_test() as instance:
        _gain_email(platform_env, instance)
        # Day 1 was loaded before the add: its rows have no email until it is loaded again.
        assert _rows(platform_env)[:2] == [(1, "a", None), (2, "b", None)]
        result = _load_day(SIGNUPS, instance, DAY1)
        assert result.success, _failure(result)
        # The team reviews the column and sets the table back to fail for the next one: the
        # added column is not a new one, so it is still extracted and loaded.
        result = _load_day(replace(SIGNUPS, on_new_column=OnNewColumn.FAIL), instance, DAY1)
        assert result.success, _failure(result)
    assert _rows(platform_env) == [(1, "a", "user1@example.com"), (2, "b", "user2@example.com"), (3, "c", "user3@example.com")]
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == raw_asset_key(SIGNUPS)]
    schema = event.materialization.metadata["dagster/column_schema"].value
    assert [(c.name, c.type) for c in schema.columns if c.name == "email"] == [("email", "varchar(160)")]


def test_an_added_column_later_declared_in_the_catalog_loads_without_complaint(platform_env):
    _seed(platform_env)
    declared = replace(SIGNUPS, on_new_column=OnNewColumn.FAIL, columns=(*SIGNUPS.columns, Column("email", "varchar(160)")))
    with dg.instance_for_test() as instance:
        _gain_email(platform_env, instance)
        for day in (DAY1, DAY2):
            result = _load_day(declared, instance, day)
            assert result.success, _failure(result)
            warnings = [e.user_message for e in instance.all_logs(result.run_id) if e.level >= logging.WARNING]
            assert not [w for w in warnings if "email" in w], warnings
    assert _rows(platform_env) == [(1, "a", "user1@example.com"), (2, "b", "user2@example.com"), (3, "c", "user3@example.com")]


def test_dropping_an_added_column_from_the_raw_table_deliberately_ends_it(platform_env):
    _seed(platform_env)
    with dg.instance_for_test() as instance:
        _gain_email(platform_env, instance)
        _source(platform_env, "ALTER TABLE app.signups DROP COLUMN email")
        assert not _load_day(SIGNUPS, instance, DAY1).success
        execute(platform_env["warehouse"], "ALTER TABLE raw_data.signups DROP COLUMN email")
        result = _load_day(SIGNUPS, instance, DAY1)
        assert result.success, _failure(result)
        # The source gaining it again adds it again, with the type it has now.
        _source(platform_env, "ALTER TABLE app.signups ADD COLUMN email varchar(10)", "UPDATE app.signups SET email = 'e' || id")
        assert _load_day(SIGNUPS, instance, DAY2).success
        assert environment.build_warehouse().process_config_and_initialize().added_columns(SIGNUPS) == (
            Column("email", "varchar(40)", description="Added from the source (on_new_column: add)."),
        )
    assert platform_env["warehouse"].query("SELECT id, email FROM raw_data.signups ORDER BY id") == [(1, None), (2, None), (3, "e3")]
