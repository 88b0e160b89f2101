"""Batches in the stage: each run stages its own, loads exactly that one, an older batch never
replaces a newer one, superseded batches are removed, and concurrent writers never expose half a
file."""

import json
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.api import execute_run

from warehouse_platform import environment
from warehouse_platform.catalog import table
from warehouse_platform.sample_data.session_generator import GeneratorConfig, generate_day
from warehouse_platform.stage.batch_writer import write_staged_batch
from warehouse_platform.stage.io_manager import read_staged_batch
from warehouse_platform.stage.storage import LocalFolderStage
from warehouse_platform.staged_files.manifest import batch_folder, batch_id_for
from warehouse_platform.staged_files.row_batches import RowBatches
from warehouse_platform.warehouse.loader import load_staged_batch
from warehouse_platform_tests.platform_runs import platform_definitions, run_job, seed

SESSION_TIMESTAMP = table("session_timestamp")

DAY = "2026-11-05"
KEY = "raw_data/session_timestamp"  # the table's stage folder
T0 = datetime(2026, 11, 6, 1, 0, tzinfo=timezone.utc)


def _stage(stage, rows, requested_at, run_id):
    batch_id = batch_id_for(requested_at, run_id)
    return write_staged_batch(
        stage, batch_folder(f"raw_data/session_timestamp/day={DAY}", batch_id), SESSION_TIMESTAMP.qualified_name, DAY,
        RowBatches(SESSION_TIMESTAMP.column_names, [rows], SESSION_TIMESTAMP.text_column_names, SESSION_TIMESTAMP.primary_key),
        slice_count=2, batch_id=batch_id,
    )


A = [("a" * 32, f"{DAY} 08:00:00")]
B = [("b" * 32, f"{DAY} 09:00:00")]


@pytest.fixture
def env(platform_env, tmp_path):
    warehouse = environment.build_warehouse().process_config_and_initialize()
    return warehouse, LocalFolderStage(root=str(tmp_path / "batches_stage"))


def _ids(warehouse):
    return sorted(r[0][0] for r in warehouse.query("SELECT sessionid FROM raw_data.session_timestamp"))


def test_batches_sort_by_when_their_runs_were_requested():
    early, late = batch_id_for(T0, "ffff-run"), batch_id_for(T0 + timedelta(microseconds=1), "0000-run")
    assert early < late


def test_a_load_step_reads_the_batch_its_own_run_staged(env):
    _, stage = env
    first = _stage(stage, A, T0, "run-one")
    second = _stage(stage, A + B, T0 + timedelta(seconds=5), "run-two")
    assert read_staged_batch(stage, KEY, DAY, run_id="run-one").manifest_url == first.manifest_url
    assert read_staged_batch(stage, KEY, DAY, run_id="run-two").manifest_url == second.manifest_url
    # A load re-run on its own (no staging in its run) takes the newest complete batch.
    assert read_staged_batch(stage, KEY, DAY, run_id="run-three").manifest_url == second.manifest_url
    assert read_staged_batch(stage, KEY, DAY).manifest_url == second.manifest_url


@pytest.mark.parametrize("order", ["older loads last", "newer loads last"])
def test_overlapping_runs_of_a_day_never_lose_a_file(env, order):
    # Run one was requested with file A, run two later with A and B; their steps interleave.
    warehouse, stage = env
    older = _stage(stage, A, T0, "run-one")
    newer = _stage(stage, A + B, T0 + timedelta(seconds=30), "run-two")
    loads = [(newer, "run-two"), (older, "run-one")] if order == "older loads last" else [(older, "run-one"), (newer, "run-two")]
    reports = [load_staged_batch(warehouse, stage, SESSION_TIMESTAMP, batch, run) for batch, run in loads]
    assert _ids(warehouse) == ["a", "b"]
    if order == "older loads last":
        assert reports[1].already_loaded  # the older view changes nothing


def test_a_restaged_day_leaves_one_batch_in_the_stage(platform_env):
    seed(platform_env["source"], date.fromisoformat(DAY), 1, GeneratorConfig(scale=0.1))
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        run_job(defs, "extract_and_load_day", instance, DAY)
        second = run_job(defs, "extract_and_load_day", instance, DAY)
    day = Path(platform_env["stage_root"], f"raw_data/session_timestamp/day={DAY}")
    [folder] = list(day.iterdir())
    assert folder.name.startswith("batch=") and folder.name.endswith(second.run_id)
    manifest = json.loads((folder / "manifest.json").read_text())
    listed = {Path(e["url"].removeprefix("file://")).name for e in manifest["entries"]}
    assert listed | {"manifest.json"} == {p.name for p in folder.iterdir()}
    rows = sum(e["meta"]["record_count"] for e in manifest["entries"])
    assert rows == len(generate_day(date.fromisoformat(DAY), GeneratorConfig(scale=0.1)).sessionid)


def _extract_and_load_day() -> dg.JobDefinition:
    """The code location's day job, rebuilt by Dagster from this module (dg.reconstructable)."""
    return platform_definitions().resolve_job_def("extract_and_load_day")


def test_an_older_run_that_stages_last_leaves_the_newer_runs_batch_in_place_to_load(platform_env):
    # Two runs of a day, requested one after the other; the older one waited in the queue, so
    # it stages (and cleans up the day's older batches) after the newer one has staged.
    seed(platform_env["source"], date.fromisoformat(DAY), 1, GeneratorConfig(scale=0.1))
    job = dg.reconstructable(_extract_and_load_day)
    stage_only = {dg.AssetKey(["stage", "raw_data", "session_timestamp"])}
    config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    with dg.instance_for_test() as instance:
        def request():
            return instance.create_run_for_job(
                job.get_definition(), run_config=config, tags={"dagster/partition": DAY}, asset_selection=stage_only,
            )

        older = request()
        time.sleep(1.1)  # the run storage records when a run was requested to the second
        newer = request()
        for run in (newer, older):
            assert execute_run(job, run, instance).success
    stage = environment.build_stage()
    newest = read_staged_batch(stage, KEY, DAY)
    assert newest.batch_id.endswith(newer.run_id)  # the newer view is still the day's newest batch ...
    warehouse = environment.build_warehouse().process_config_and_initialize()
    report = load_staged_batch(warehouse, stage, SESSION_TIMESTAMP, newest, newer.run_id)  # ... and whole: it loads
    assert report.rows_loaded == len(generate_day(date.fromisoformat(DAY), GeneratorConfig(scale=0.1)).sessionid)


def test_concurrent_writers_of_one_manifest_never_fail_or_expose_half_a_file(tmp_path):
    stage = LocalFolderStage(root=str(tmp_path / "stage"))
    key = "raw_data/t/manifest.json"
    bodies = [json.dumps({"writer": i, "entries": ["x" * 4096] * 64}) for i in range(4)]
    stage.write_text(key, bodies[0])
    errors, stop = [], threading.Event()

    def write(body):
        try:
            for _ in range(150):
                stage.write_text(key, body)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    def read():
        while not stop.is_set():
            try:
                assert json.loads(stage.read_text(key))["writer"] in range(4)
            except Exception as error:  # noqa: BLE001
                errors.append(error)

    writers = [threading.Thread(target=write, args=(b,), name=f"manifest writer {i}") for i, b in enumerate(bodies)]
    reader = threading.Thread(target=read, name="manifest reader")
    reader.start()
    try:
        for t in writers:
            t.start()
    finally:
        for t in writers:
            if t.ident is not None:
                t.join(timeout=120)
        stop.set()  # the reader stops whatever happened to the writers
        reader.join(timeout=120)
    assert not [t.name for t in (*writers, reader) if t.is_alive()] and errors == []
    assert [o.key for o in stage.list_objects("raw_data/")] == [key]  # no temporary files left or listed
