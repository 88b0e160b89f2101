"""Each check passes on clean data and fails on data built to break it, on the real embedded
Postgres, with the severity and figures the data team sees."""

from dataclasses import replace
from datetime import date, timedelta

import dagster as dg
import pytest

from warehouse_platform import environment, settings
from warehouse_platform.catalog import load_catalog, table
from warehouse_platform.conventions import check_names
from warehouse_platform.quality import evaluations
from warehouse_platform.sample_data.session_generator import GeneratorConfig, generate_day
from warehouse_platform.stage.io_manager import read_staged_batch
from warehouse_platform.stage.storage import LocalFolderStage
from warehouse_platform.staged_files.manifest import table_folder
from warehouse_platform_tests.platform_runs import job_check_keys, platform_definitions, run_job, seed

CHANNEL = table("channel")
SESSION_TIMESTAMP = table("session_timestamp")
USER_SESSION_CHANNEL = table("user_session_channel")

DAY = date(2026, 11, 2)


def _evaluations(result) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def _load_day(env, config: GeneratorConfig):
    seed(env["source"], DAY, 1, config)
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        result = run_job(defs, "extract_and_load_day", instance, DAY.isoformat())
        rerun_checks = run_job(defs, "extract_and_load_day", instance, DAY.isoformat())
    warehouse = environment.build_warehouse().process_config_and_initialize()
    stage = LocalFolderStage(root=str(env["stage_root"]))
    return result, rerun_checks, warehouse, stage


@pytest.fixture(scope="module")
def clean_day(module_platform_env):
    return _load_day(module_platform_env, GeneratorConfig(scale=0.5))


def test_every_check_passes_on_clean_data_and_runs_with_the_load(clean_day):
    result, _, _, _ = clean_day
    found = _evaluations(result)
    for name_of_table in ("user_session_channel", "session_timestamp", "session_transaction"):
        for name in (
            check_names.DUPLICATE_PRIMARY_KEYS, check_names.ROWS_STAGED_EQUAL_ROWS_LOADED, check_names.DISTRIBUTION_SKEW,
            check_names.ROW_VOLUME, check_names.SOURCE_PARITY,
        ):
            assert found[(f"raw_data/{name_of_table}", name)].passed, (name_of_table, name)
        assert found[(f"stage/raw_data/{name_of_table}", check_names.REDSHIFT_TYPE_LIMITS)].passed


def test_rerunning_a_loaded_day_repeats_its_checks_without_changing_data(clean_day):
    _, rerun, _, _ = clean_day
    loads = [e for e in rerun.get_asset_materialization_events() if e.asset_key.path[0] == "raw_data"]
    assert loads and all(e.materialization.metadata["already_loaded"].value for e in loads)
    # Every check but freshness passes (the day is weeks old: test_a_daily_table_whose_newest...).
    found = _evaluations(rerun)
    assert set(found) == job_check_keys(platform_definitions(), "extract_and_load_day")
    assert all(e.passed for (_, name), e in found.items() if name != check_names.NEWEST_DAY_FRESH)


def test_table_level_checks_run_without_loading(clean_day):
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("check_tables").execute_in_process(instance=instance, raise_on_error=False)
    assert not result.get_asset_materialization_events()
    found = _evaluations(result)
    assert found[("raw_data/user_session_channel", check_names.DISTRIBUTION_SKEW)].passed
    # Nothing has loaded the channel table in this warehouse yet: the check says so.
    missing = found[("raw_data/channel", check_names.DUPLICATE_PRIMARY_KEYS)]
    assert not missing.passed and missing.description == "raw_data.channel has not been loaded yet"
    assert ("raw_data/session_timestamp", check_names.DUPLICATE_PRIMARY_KEYS) not in found  # per day, with loads


def test_clean_figures(clean_day):
    result, _, _, _ = clean_day
    found = _evaluations(result)
    sessions = len(generate_day(DAY, GeneratorConfig(scale=0.5)).sessionid)
    duplicates = found[("raw_data/session_timestamp", check_names.DUPLICATE_PRIMARY_KEYS)]
    assert duplicates.metadata["duplicate_keys"].value == 0 and duplicates.severity == dg.AssetCheckSeverity.ERROR
    reconciled = found[("raw_data/session_timestamp", check_names.ROWS_STAGED_EQUAL_ROWS_LOADED)].metadata
    assert reconciled["manifest_rows"].value == reconciled["ledger_rows"].value == reconciled["table_rows"].value == sessions
    limits = found[("stage/raw_data/user_session_channel", check_names.REDSHIFT_TYPE_LIMITS)].metadata["columns"].value
    widths = {r.data["column"]: r.data["widest_bytes"] for r in limits.records}
    assert widths["sessionid"] == 32 and 0 < widths["channel"] <= 9


def test_duplicate_keys_fail_blocking_with_count_and_sample(clean_day):
    _, _, warehouse, _ = clean_day
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO raw_data.session_timestamp SELECT * FROM raw_data.session_timestamp "
            "WHERE sessionid IN (SELECT sessionid FROM raw_data.session_timestamp ORDER BY sessionid LIMIT 3)"
        )
        conn.commit()
    try:
        result = evaluations.duplicate_primary_keys(warehouse, SESSION_TIMESTAMP, DAY.isoformat())
        assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
        assert (result.metadata["duplicate_keys"].value, result.metadata["affected_rows"].value) == (3, 6)
        sample = result.metadata["sample"].value.records
        assert [r.data["copies"] for r in sample] == [2, 2, 2] and len(sample[0].data["key"]) == 32
        # Another day's check sees the collision too only if it involves that day's keys.
        assert evaluations.duplicate_primary_keys(warehouse, SESSION_TIMESTAMP, "2026-11-03").passed
    finally:
        with warehouse.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "DELETE FROM raw_data.session_timestamp a USING raw_data.session_timestamp b "
                "WHERE a.sessionid = b.sessionid AND a.ctid > b.ctid"
            )
            conn.commit()
    from warehouse_platform.definitions import build_definitions

    defs = build_definitions()

    spec = next(s for s in defs.resolve_asset_graph().asset_check_keys if s.name == check_names.DUPLICATE_PRIMARY_KEYS)
    assert defs.resolve_asset_graph().get_check_spec(spec).blocking


def test_a_lost_file_fails_reconciliation_naming_the_file(clean_day):
    _, _, warehouse, stage = clean_day
    staged = read_staged_batch(stage, table_folder(SESSION_TIMESTAMP), DAY.isoformat())
    lost = staged.parts[-1]
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute("UPDATE raw_data._load_ledger SET active = false WHERE checksum = %s", (lost.checksum,))
        conn.commit()
    try:
        result = evaluations.rows_staged_equal_rows_loaded(warehouse, SESSION_TIMESTAMP, DAY.isoformat(), staged)
        assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
        assert f"{lost.url} is in the manifest but was never loaded" in result.description
        files = {r.data["file"]: r.data["ledger_rows"] for r in result.metadata["files"].value.records}
        assert files[lost.url] == -1
    finally:
        with warehouse.connection() as conn, conn.cursor() as cur:
            cur.execute("UPDATE raw_data._load_ledger SET active = true WHERE checksum = %s", (lost.checksum,))
            conn.commit()


def test_rows_missing_from_the_table_fail_reconciliation(clean_day):
    _, _, warehouse, stage = clean_day
    staged = read_staged_batch(stage, table_folder(SESSION_TIMESTAMP), DAY.isoformat())
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE kept AS SELECT * FROM raw_data.session_timestamp WHERE sessionid LIKE 'a%'")
        cur.execute("DELETE FROM raw_data.session_timestamp WHERE sessionid LIKE 'a%'")
        removed = cur.rowcount
        result = None
        conn.commit()
        try:
            result = evaluations.rows_staged_equal_rows_loaded(warehouse, SESSION_TIMESTAMP, DAY.isoformat(), staged)
        finally:
            cur.execute("INSERT INTO raw_data.session_timestamp SELECT * FROM kept")
            conn.commit()
    assert removed > 0 and not result.passed
    assert result.metadata["table_rows"].value == result.metadata["ledger_rows"].value - removed


def test_oversize_value_fails_the_type_limits_check(clean_day):
    from warehouse_platform_tests.staged_batches import platform_batch

    _, _, _, _ = clean_day
    stage = LocalFolderStage(root=str(clean_day[3].root) + "_wide")
    batch = platform_batch(stage, USER_SESSION_CHANNEL, DAY.isoformat(), [("1", "a" * 32, "네이버광고채널캠페인유")], slice_count=1)
    result = evaluations.redshift_type_limits(USER_SESSION_CHANNEL, batch)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert "channel: widest value 33 bytes > varchar(32)" in result.description
    row = {r.data["column"]: r.data for r in result.metadata["columns"].value.records}["channel"]
    assert (row["widest_bytes"], row["line"]) == (33, 2)


def test_unpartitioned_and_even_or_all_tables_report_skew_as_not_applicable(clean_day):
    _, _, warehouse, _ = clean_day
    result = evaluations.distribution_skew(warehouse, CHANNEL)
    assert result.passed and result.metadata["status"].value == "not applicable"


def test_uniform_data_passes_the_skew_check(clean_day):
    _, _, warehouse, _ = clean_day
    result = evaluations.distribution_skew(warehouse, USER_SESSION_CHANNEL)
    assert result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["skew_rows"].value < 4.0
    assert result.metadata["svv_table_info_skew_rows"].value == "n/a"  # Redshift-only figure
    rows = [r.data["rows"] for r in result.metadata["rows_per_slice"].value.records]
    assert len(rows) == warehouse.slice_count and sum(rows) == len(generate_day(DAY, GeneratorConfig(scale=0.5)).sessionid)


def test_skew_figures_show_inline_per_slice_and_settings_are_not_plotted(clean_day):
    _, _, warehouse, _ = clean_day
    metadata = evaluations.distribution_skew(warehouse, USER_SESSION_CHANNEL).metadata
    # No markdown (the UI hides it behind a "Show Markdown" button): a table, with a bar per slice.
    assert not [k for k, v in metadata.items() if isinstance(v, dg.MarkdownMetadataValue)]
    table_value = metadata["rows_per_slice"]
    assert isinstance(table_value, dg.TableMetadataValue)
    assert [c.name for c in table_value.schema.columns] == ["slice", "rows", "share", "bar"]
    rows = [r.data for r in table_value.records]
    assert len(rows) == warehouse.slice_count and sum(r["rows"] for r in rows) > 0
    fullest = max(rows, key=lambda r: r["rows"])
    assert len(fullest["bar"]) == 30 and all(len(r["bar"]) <= 30 for r in rows)
    # Settings are the same every run: text, which the UI does not plot as a line.
    assert isinstance(metadata["threshold"], dg.TextMetadataValue) and metadata["threshold"].value == "4.00"
    assert isinstance(metadata["slices"], dg.TextMetadataValue) and metadata["slices"].value == str(warehouse.slice_count)


def test_skewed_data_fires_the_skew_warning_with_a_suggestion(platform_env):
    result, _, warehouse, _ = _load_day(platform_env, GeneratorConfig(scale=0.5, skewed=True))
    skew = _evaluations(result)[("raw_data/user_session_channel", check_names.DISTRIBUTION_SKEW)]
    assert not skew.passed and skew.severity == dg.AssetCheckSeverity.WARN
    metadata = skew.metadata
    skew_rows = metadata["skew_rows"].value
    assert skew_rows == "inf (a slice is empty)" or skew_rows >= 4.0
    heaviest = metadata["heaviest_keys"].value.records[0].data
    assert heaviest["value"] == "1" and heaviest["share"] > 0.3  # user 1 owns a third of the sessions
    candidates = {r.data["column"]: r.data["skew"] for r in metadata["candidates"].value.records}
    assert candidates["sessionid"] < 4.0
    # A daily table grows: however few rows it has today, never ALL. The advice is the column
    # that spreads and that the dbt models join it on, in one sentence, with what it weighed.
    assert metadata["suggested_distribution"].value == "DISTSTYLE KEY DISTKEY(sessionid)"
    assert metadata["suggestion_reason"].value.startswith("sessionid spreads rows with skew ")
    assert "2 join(s) of the dbt models" in metadata["suggestion_reason"].value
    assert metadata["table_kind"].value.startswith("daily")
    assert metadata["all_rows_bound"].value.startswith("100,000 rows")
    assert {r.data["column"]: r.data["join_conditions"] for r in metadata["joins"].value.records} == {"sessionid": 2}
    # The same data under a spec keyed on sessionid is fine.
    assert evaluations.distribution_skew(warehouse, replace(USER_SESSION_CHANNEL, dist_key="sessionid")).passed


def test_a_small_whole_table_is_advised_all_with_its_bound_and_a_daily_one_never(clean_day):
    result, _, warehouse, _ = clean_day
    found = _evaluations(result)
    # The same rows declared a whole table (a dimension) are few enough to copy to every node.
    whole = evaluations.distribution_skew(warehouse, replace(USER_SESSION_CHANNEL, partitioned=False)).metadata
    assert whole["suggested_distribution"].value == "DISTSTYLE ALL"
    assert "within the 100,000-row bound for ALL" in whole["suggestion_reason"].value
    assert whole["table_kind"].value.startswith("whole table")
    # The daily tables, as the load's own check run judged them.
    for daily in ("user_session_channel", "session_timestamp", "session_transaction"):
        assert found[(f"raw_data/{daily}", check_names.DISTRIBUTION_SKEW)].metadata["suggested_distribution"].value == (
            "DISTSTYLE KEY DISTKEY(sessionid)"
        ), daily


def test_ledger_rows_that_differ_from_the_manifest_fail_reconciliation(clean_day):
    _, _, warehouse, stage = clean_day
    staged = read_staged_batch(stage, table_folder(SESSION_TIMESTAMP), DAY.isoformat())
    part = staged.parts[0]
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute("UPDATE raw_data._load_ledger SET row_count = row_count + 1 WHERE checksum = %s AND active", (part.checksum,))
        conn.commit()
    try:
        result = evaluations.rows_staged_equal_rows_loaded(warehouse, SESSION_TIMESTAMP, DAY.isoformat(), staged)
    finally:
        with warehouse.connection() as conn, conn.cursor() as cur:
            cur.execute("UPDATE raw_data._load_ledger SET row_count = row_count - 1 WHERE checksum = %s AND active", (part.checksum,))
            conn.commit()
    assert not result.passed
    assert f"{part.url}: manifest {part.row_count} rows, ledger {part.row_count + 1}" in result.description
    files = {r.data["file"]: r.data["ledger_rows"] for r in result.metadata["files"].value.records}
    assert files[part.url] == part.row_count + 1


def test_a_loaded_file_missing_from_the_manifest_fails_reconciliation(clean_day):
    _, _, warehouse, stage = clean_day
    staged = read_staged_batch(stage, table_folder(SESSION_TIMESTAMP), DAY.isoformat())
    stray = staged.parts[0].url.replace("part-", "stray-part-")
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO raw_data._load_ledger SELECT table_name, partition_key, %s, 'not-a-staged-checksum', 7, "
            "batch_rows_loaded, load_id, run_id, loaded_at, active FROM raw_data._load_ledger "
            "WHERE checksum = %s AND active",
            (stray, staged.parts[0].checksum),
        )
        conn.commit()
    try:
        result = evaluations.rows_staged_equal_rows_loaded(warehouse, SESSION_TIMESTAMP, DAY.isoformat(), staged)
    finally:
        with warehouse.connection() as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM raw_data._load_ledger WHERE file_url = %s", (stray,))
            conn.commit()
    assert not result.passed and f"{stray} (7 rows) is loaded but not in the current manifest" in result.description


@pytest.fixture(scope="module")
def two_days(postgres_server, tmp_path_factory):
    """Two loaded days in one instance, for checks across days (each test restores what it changes)."""
    from warehouse_platform_tests.conftest import configure_platform

    with pytest.MonkeyPatch.context() as monkeypatch:
        env = configure_platform(postgres_server, tmp_path_factory.mktemp("two_days"), monkeypatch)
        seed(env["source"], DAY, 2, GeneratorConfig(scale=0.1))
        defs = platform_definitions()
        with dg.instance_for_test() as instance:
            for day in (DAY.isoformat(), "2026-11-03"):
                run_job(defs, "extract_and_load_day", instance, day)
            yield env, defs, instance, environment.build_warehouse().process_config_and_initialize()


def test_a_key_loaded_on_two_different_days_fails_the_duplicate_check_of_both_days(two_days):
    _, _, _, warehouse = two_days
    days = (DAY.isoformat(), "2026-11-03")
    first_of = "SELECT min(sessionid) FROM raw_data.session_timestamp WHERE _partition_date = %s"
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(first_of, (days[0],))
        [(key,)] = cur.fetchall()
        cur.execute(first_of, (days[1],))
        [(replaced,)] = cur.fetchall()
        cur.execute("UPDATE raw_data.session_timestamp SET sessionid = %s WHERE sessionid = %s", (key, replaced))
        conn.commit()
    try:
        found = [evaluations.duplicate_primary_keys(warehouse, SESSION_TIMESTAMP, day) for day in days]
        whole_table = evaluations.duplicate_primary_keys(warehouse, SESSION_TIMESTAMP, None)
    finally:
        with warehouse.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE raw_data.session_timestamp SET sessionid = %s WHERE sessionid = %s AND _partition_date = %s",
                (replaced, key, days[1]),
            )
            conn.commit()
    for result in (*found, whole_table):
        assert not result.passed and result.metadata["duplicate_keys"].value == 1
        assert [r.data["key"] for r in result.metadata["sample"].value.records] == [key]
    assert whole_table.description.endswith("(whole table, every day)")


def test_per_day_checks_run_without_a_day_check_every_day_and_say_so(two_days):
    """What "Execute all" on a raw table's Checks tab does: the asset's checks, no partition."""
    env, defs, instance, warehouse = two_days
    days = [DAY.isoformat(), "2026-11-03"]
    raw, staged = dg.AssetKey(["raw_data", "session_timestamp"]), dg.AssetKey(["stage", "raw_data", "session_timestamp"])
    execute_all = dg.define_asset_job("execute_all", selection=dg.AssetSelection.checks_for_assets(raw, staged))
    defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[execute_all]))
    # The second day loses a file from the ledger: only that day fails reconciliation.
    lost = read_staged_batch(LocalFolderStage(root=str(env["stage_root"])), table_folder(SESSION_TIMESTAMP), days[1]).parts[0]
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute("UPDATE raw_data._load_ledger SET active = false WHERE file_url = %s", (lost.url,))
        conn.commit()
    try:
        result = defs.resolve_job_def("execute_all").execute_in_process(instance=instance, raise_on_error=False)
    finally:
        with warehouse.connection() as conn, conn.cursor() as cur:
            cur.execute("UPDATE raw_data._load_ledger SET active = true WHERE file_url = %s", (lost.url,))
            conn.commit()
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    found = {(e.check_name, e.partition): e for e in result.get_asset_check_evaluations()}
    duplicates = found[(check_names.DUPLICATE_PRIMARY_KEYS, None)]
    assert duplicates.passed and duplicates.description == "every (sessionid) is unique (whole table, every day)"
    assert [p for name, p in found if name == check_names.DUPLICATE_PRIMARY_KEYS] == [None]
    assert found[(check_names.ROWS_STAGED_EQUAL_ROWS_LOADED, days[0])].passed
    assert not found[(check_names.ROWS_STAGED_EQUAL_ROWS_LOADED, days[1])].passed
    summary = found[(check_names.ROWS_STAGED_EQUAL_ROWS_LOADED, None)]
    assert not summary.passed and summary.severity == dg.AssetCheckSeverity.ERROR
    assert summary.description.startswith(
        f"run without a day: checked every day in the load ledger, 2 days ({days[0]}..{days[1]}); 1 failed: "
        f"{days[1]}: {lost.url} is in the manifest but was never loaded"
    )
    assert summary.metadata["days_checked"].value == 2 and summary.metadata["days_failed"].value == 1
    limits = found[(check_names.REDSHIFT_TYPE_LIMITS, None)]
    assert limits.passed and limits.description == f"run without a day: checked every day staged, 2 days ({days[0]}..{days[1]}); all passed"
    assert all(found[(check_names.REDSHIFT_TYPE_LIMITS, day)].passed for day in days)
    # Each day's result is recorded as that day's check status in the instance.
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(raw, check_names.ROWS_STAGED_EQUAL_ROWS_LOADED), limit=10
    )
    latest = next(record for record in history if record.partition == days[1])
    assert latest.run_id == result.run_id and latest.status.value == "FAILED"


def test_row_volume_warns_on_a_thin_day_errs_on_an_empty_one_and_passes_a_normal_one(platform_env, tmp_path):
    from datetime import timedelta

    from warehouse_platform.warehouse.loader import load_staged_batch
    from warehouse_platform_tests.staged_batches import platform_batch

    warehouse = environment.build_warehouse().process_config_and_initialize()
    stage = LocalFolderStage(root=str(tmp_path / "volume_stage"))
    first = date(2026, 11, 1)
    # Nine loaded days: an old busy one, seven ordinary ones with a quiet one among them, a thin one;
    # 2026-11-11 is never loaded.
    sizes = [400, 20, 22, 24, 4, 26, 28, 30, 11]
    for offset, n in enumerate(sizes):
        day = (first + timedelta(days=offset)).isoformat()
        rows = [(str(i), f"{offset:02d}{i:030d}", "Naver") for i in range(n)]
        load_staged_batch(warehouse, stage, USER_SESSION_CHANNEL, platform_batch(stage, USER_SESSION_CHANNEL, day, rows, slice_count=1), "r")

    def check(day):
        return evaluations.row_volume_of_day(warehouse, USER_SESSION_CHANNEL, day)

    first_day = check("2026-11-01")
    assert first_day.passed and first_day.metadata["volume"].value == "no earlier loaded day to compare with"
    normal = check("2026-11-08")  # 30 rows against 400, 20, 22, 24, 4, 26, 28 (median 24)
    assert normal.passed and normal.metadata["trailing_median"].value == 24
    thin = check("2026-11-09")  # 11 rows against the 7 days before (median 24); the 400 is out of range
    assert not thin.passed and thin.severity == dg.AssetCheckSeverity.WARN
    assert (thin.metadata["rows"].value, thin.metadata["trailing_median"].value) == (11, 24)
    trailing = [(r.data["day"], r.data["rows"]) for r in thin.metadata["trailing_days"].value.records]
    assert trailing == [("2026-11-08", 30), ("2026-11-07", 28), ("2026-11-06", 26), ("2026-11-05", 4),
                        ("2026-11-04", 24), ("2026-11-03", 22), ("2026-11-02", 20)]
    assert "below half of a median of 24 over the 7 loaded days" in thin.description
    empty = check("2026-11-11")
    assert not empty.passed and empty.severity == dg.AssetCheckSeverity.ERROR
    assert empty.metadata["rows"].value == 0 and "holds no rows" in empty.description


def _recorded_freshness(defs, instance) -> dict[str, dg.AssetCheckEvaluation]:
    """A tick of the freshness sensor, recorded as the sensor daemon records it (no run)."""
    sensor = defs.get_sensor_def("newest_day_freshness")
    with dg.build_sensor_context(instance=instance, resources={"warehouse": defs.resources["warehouse"]}) as context:
        tick = sensor.evaluate_tick(context)
    for event in tick.asset_events:
        instance.report_runless_asset_event(event)
    keys = [dg.AssetCheckKey(e.asset_key, e.check_name) for e in tick.asset_events]
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    return {key.asset_key.to_user_string(): record.event.dagster_event.event_specific_data for key, record in records.items()}


def test_a_daily_table_whose_newest_loaded_day_is_weeks_old_is_stale(clean_day):
    from warehouse_platform.quality.newest_day import business_today

    result, _, _, _ = clean_day
    today = business_today(settings.timezone())
    behind = (today - DAY).days - 1
    assert behind >= 14, "the loaded day must be weeks old for this test"
    # With the load: the check judges the newest loaded day, although the table was written just now.
    stale = _evaluations(result)[("raw_data/session_timestamp", check_names.NEWEST_DAY_FRESH)]
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.ERROR
    assert stale.metadata["newest_loaded_day"].value == DAY.isoformat()
    assert stale.metadata["days_behind"].value == str(behind)
    assert stale.description.startswith(f"stale: the newest loaded day is {DAY}, {behind} days behind yesterday")
    # Without any run: the sensor records the same verdict in an instance, where the UI reads it.
    with dg.instance_for_test() as instance:
        recorded = _recorded_freshness(platform_definitions(), instance)
    # Every day-partitioned table of the catalog, loaded or not (one never loaded is stale too).
    assert set(recorded) == {f"{spec.schema}/{spec.name}" for spec in load_catalog() if spec.partitioned}
    assert not recorded["raw_data/session_timestamp"].passed
    newest = date.fromisoformat(recorded["raw_data/session_timestamp"].metadata["newest_loaded_day"].value)
    assert newest < today - timedelta(days=14)  # DAY, or a later day another test of this module loaded


def test_a_daily_table_loaded_through_yesterday_is_fresh(platform_env):
    from warehouse_platform.quality.newest_day import business_today

    yesterday = business_today(settings.timezone()) - timedelta(days=1)
    seed(platform_env["source"], yesterday, 1, GeneratorConfig(scale=0.05))
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        result = run_job(defs, "extract_and_load_day", instance, yesterday.isoformat())
        fresh = _evaluations(result)[("raw_data/session_timestamp", check_names.NEWEST_DAY_FRESH)]
        assert fresh.passed and fresh.metadata["newest_loaded_day"].value == yesterday.isoformat()
        assert fresh.metadata["days_behind"].value == "0"
        assert _recorded_freshness(defs, instance)["raw_data/session_timestamp"].passed
