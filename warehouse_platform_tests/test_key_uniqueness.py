"""The stage's evidence that a batch's keys are unique: the loader trusts it (it checks only the
candidates in SQL), so a key that repeats must always be a candidate."""

from warehouse_platform import environment
from warehouse_platform.catalog import table
from warehouse_platform.stage.batch_writer import write_staged_batch
from warehouse_platform.stage.storage import LocalFolderStage
from warehouse_platform.staged_files.key_evidence import KeyUniquenessTracker
from warehouse_platform.staged_files.row_batches import RowBatches
from warehouse_platform.warehouse.loader import load_staged_batch

SESSION_TIMESTAMP = table("session_timestamp")

K = [f"{i:032x}" for i in range(10)]


def test_distinct_keys_prove_the_batch_unique():
    tracker = KeyUniquenessTracker([0])
    tracker.observe([(k, "x") for k in K[:5]])
    tracker.observe([(k, "y") for k in K[5:]])
    assert tracker.candidates == []


def test_a_key_repeated_within_one_batch_of_rows_is_a_candidate():
    tracker = KeyUniquenessTracker([0])
    tracker.observe([(K[0], 1), (K[1], 2), (K[0], 3), (K[2], 4)])
    assert tracker.candidates == [(K[0],)]


def test_a_key_repeated_across_batches_of_rows_is_a_candidate():
    tracker = KeyUniquenessTracker([0])
    tracker.observe([(K[0], 1), (K[1], 2)])
    tracker.observe([(K[3], 3)])
    tracker.observe([(K[1], 4), (K[4], 5)])
    assert (K[1],) in tracker.candidates and (K[3],) not in tracker.candidates


def test_composite_keys_repeat_only_when_every_column_does():
    tracker = KeyUniquenessTracker([0, 2])
    tracker.observe([(K[0], "a", "1"), (K[0], "b", "2"), (K[0], "c", "1")])
    assert tracker.candidates == [(K[0], "1")]


def test_past_max_candidates_the_evidence_is_given_up():
    tracker = KeyUniquenessTracker([0], max_candidates=2)
    tracker.observe([(k,) for k in K[:4]] * 2)  # four repeated keys > 2
    assert tracker.candidates is None
    tracker.observe([(K[9],)])
    assert tracker.candidates is None  # stays unknown: the loader checks every row


def test_keys_repeated_across_staged_batches_are_deduplicated_by_the_load(platform_env, tmp_path):
    """The real stage path (write_staged_batch, as the StageIOManager calls it) and the real load."""
    stage = LocalFolderStage(root=str(tmp_path / "stage"))
    day = "2026-11-01"
    batches = [
        [(K[0], f"{day} 08:00:00"), (K[1], f"{day} 09:00:00")],
        [(K[2], f"{day} 10:00:00"), (K[0], f"{day} 11:00:00")],  # K[0] again, in a later batch of rows
        [(K[2], f"{day} 07:00:00"), (K[3], f"{day} 12:00:00")],  # K[2] again
    ]
    rows = RowBatches(SESSION_TIMESTAMP.column_names, batches, key_columns=SESSION_TIMESTAMP.primary_key)
    staged = write_staged_batch(stage, f"raw_data/session_timestamp/day={day}", SESSION_TIMESTAMP.qualified_name, day, rows, slice_count=2)
    assert sorted(staged.duplicate_candidates) == [(K[0],), (K[2],)]
    warehouse = environment.build_warehouse().process_config_and_initialize()
    report = load_staged_batch(warehouse, stage, SESSION_TIMESTAMP, staged, "run")
    assert (report.rows_staged, report.rows_loaded) == (6, 4)
    got = warehouse.query("SELECT sessionid, ts::text FROM raw_data.session_timestamp ORDER BY 1")
    assert got == [(K[0], f"{day} 11:00:00"), (K[1], f"{day} 09:00:00"), (K[2], f"{day} 10:00:00"), (K[3], f"{day} 12:00:00")]
