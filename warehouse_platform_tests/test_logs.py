"""Landed application logs through the whole path: landing sensor ticks against a real instance,
real runs of what they request (DuckDB structuring, stage parts + manifest, COPY into the
embedded Postgres, checks), in the folder stage and on moto's S3 server, compared with the
generator's truth."""

import json
import os
from collections import Counter
from datetime import date

import boto3
import dagster as dg
import pytest

from warehouse_platform import environment
from warehouse_platform.catalog import table
from warehouse_platform.conventions import check_names
from warehouse_platform.quality import evaluations
from warehouse_platform.sample_data.log_generator import generate_logs
from warehouse_platform.sample_data.session_generator import GeneratorConfig, generate_day
from warehouse_platform.stage.log_structuring import StructuringSummary
from warehouse_platform_tests.platform_runs import (
    land_in_folder,
    landing_fed_tables,
    landing_requests,
    platform_definitions,
    run_request,
)

DAYS = [date(2026, 11, 3), date(2026, 11, 4)]
CONFIG = GeneratorConfig(scale=0.1)
LOGS = generate_logs(DAYS, CONFIG)
ON_TIME = [f for f in LOGS.files if f.arrives_on == f.day]
[LATE] = [f for f in LOGS.files if f.arrives_on != f.day]


def _tick_and_run(defs, instance):
    return [run_request(defs, instance, request) for request in landing_requests(defs, instance)]


def _events_per_day_and_name(warehouse) -> Counter:
    rows = warehouse.query("SELECT _partition_date, event_name, count(*) FROM raw_data.app_events GROUP BY 1, 2")
    return Counter({(d, name): n for d, name, n in rows})


def _requests_per_day_and_status(warehouse) -> Counter:
    rows = warehouse.query("SELECT _partition_date, status, count(*) FROM raw_data.access_log GROUP BY 1, 2")
    return Counter({(d, status): n for d, status, n in rows})


def _truth_without(files_left_out) -> Counter:
    """Events per (day, name) of the files landed so far."""
    truth = Counter(LOGS.truth.events)
    for f in files_left_out:
        for (day, name), n in Counter((f.day, json.loads(line)["event"]) for line in _lines(f)).items():
            truth[(day, name)] -= n
    return +truth


def _lines(f) -> list[str]:
    import gzip

    data = gzip.decompress(f.data) if f.key.endswith(".gz") else f.data
    return data.decode().splitlines()


def _rejects(stage) -> list[dict]:
    found = []
    for obj in stage.list_objects("raw_data/"):
        if obj.key.endswith("/rejects.jsonl"):
            found += [json.loads(line) for line in stage.read_text(obj.key).splitlines()]
    return found


def test_structured_rows_equal_the_generators_truth_and_every_malformed_line_is_a_reject_at_its_file_and_line(logs_platform):
    defs, instance, root, warehouse = logs_platform
    land_in_folder(root, ON_TIME)
    results = _tick_and_run(defs, instance)
    assert len(results) == len(landing_fed_tables()) * len(DAYS)  # one run per landing-fed table and day

    assert _events_per_day_and_name(warehouse) == _truth_without([LATE])
    assert _requests_per_day_and_status(warehouse) == LOGS.truth.requests
    # Times were written in UTC and in Seoul time (+09:00): normalised to UTC, each session's start
    # event is at the session's own start time.
    starts = dict(warehouse.query("SELECT sessionid, event_ts FROM raw_data.app_events WHERE event_name = 'session_start'"))
    sessions = {}
    for day in DAYS:
        data = generate_day(day, CONFIG)
        sessions.update({sid: ts.replace(microsecond=ts.microsecond // 1000 * 1000) for sid, ts in zip(data.sessionid, data.ts)})
    assert starts == sessions
    # properties kept whole as JSON (jsonb locally), promoted keys typed.
    [(amounts, props)] = warehouse.query(
        "SELECT sum(amount), count(*) FILTER (WHERE properties->>'currency' = 'KRW') FROM raw_data.app_events WHERE event_name = 'purchase'"
    )
    assert amounts > 0 and props == LOGS.truth.events[(DAYS[0], "purchase")] + LOGS.truth.events[(DAYS[1], "purchase")]

    stage = defs.resources["stage"]
    rejects = _rejects(stage)
    assert sorted((r["file"], r["line"]) for r in rejects) == sorted(
        (stage.url_for(m.key), m.line) for m in LOGS.truth.malformed
    )
    assert {r["reason"] for r in rejects} >= {
        "not a JSON object (malformed or truncated JSON)", "does not match the combined log format",
    } and any("is not a timestamp with a time zone offset" in r["reason"] for r in rejects)

    # Nothing else is lost: every landed line is a staged row or a reject.
    for result in results:
        [stage_event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[0] == "stage"]
        meta = {k: v.value for k, v in stage_event.materialization.metadata.items()}
        assert meta["lines_read"] == meta["dagster/row_count"] + meta["rejected_lines"]
        # rejected_lines: WARN (the day's few rejects are under the 2% share), naming the first reject's file and line.
        [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "rejected_lines"]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert check.metadata["rejected_lines"].value == meta["rejected_lines"] > 0
        first = check.metadata["first_rejects"].value.records[0].data
        assert (first["file"], first["line"]) in {(stage.url_for(m.key), m.line) for m in LOGS.truth.malformed}
        # The other raw checks hold as for any raw table (duplicate event ids were deduped by the load).
        # (newest_day_fresh aside: the test's days are weeks old, so they are honestly stale.)
        assert all(
            c.passed for c in result.get_asset_check_evaluations()
            if c.check_name not in (check_names.REJECTED_LINES, check_names.NEWEST_DAY_FRESH)
        )


def test_a_rerun_is_a_no_op_and_a_late_file_replaces_its_day_exactly(logs_platform):
    defs, instance, root, warehouse = logs_platform
    land_in_folder(root, ON_TIME)
    requests = landing_requests(defs, instance)
    for request in requests:
        run_request(defs, instance, request)
    before = _events_per_day_and_name(warehouse)
    [(ledger_rows,)] = warehouse.query("SELECT count(*) FROM raw_data._load_ledger")

    assert landing_requests(defs, instance) == []  # nothing new
    run_request(defs, instance, requests[0])  # the same run again: the same bytes staged, already loaded
    assert _events_per_day_and_name(warehouse) == before
    assert warehouse.query("SELECT count(*) FROM raw_data._load_ledger") == [(ledger_rows,)]

    land_in_folder(root, [LATE])  # the mobile upload for the second day, a day late
    [late_request] = landing_requests(defs, instance)
    # The day's app_events files are all read again, the late one with them.
    landed = late_request.run_config["ops"]["stage__raw_data__app_events"]["config"]["landed_files"]
    assert late_request.partition_key == LATE.day.isoformat()
    assert sorted(landed) == sorted(f.key for f in LOGS.files if f.day == LATE.day and "/app_events/" in f.key)
    run_request(defs, instance, late_request)
    after = _events_per_day_and_name(warehouse)
    assert after == _truth_without([])
    assert {k: v for k, v in after.items() if k[0] != LATE.day} == {k: v for k, v in before.items() if k[0] != LATE.day}


def test_the_same_path_works_with_the_stage_on_moto_s3(platform_env, s3_bucket, monkeypatch):
    monkeypatch.setenv("PLATFORM_STAGE_URL", f"s3://{s3_bucket}/warehouse")
    defs = platform_definitions()
    warehouse = environment.build_warehouse().process_config_and_initialize()
    client = boto3.client("s3", endpoint_url=os.environ["PLATFORM_S3_ENDPOINT_URL"], region_name="us-east-1")
    first_day = [f for f in ON_TIME if f.day == DAYS[0]]
    for f in first_day:
        client.put_object(Bucket=s3_bucket, Key=f"warehouse/{f.key}", Body=f.data)
    with dg.instance_for_test() as instance:
        assert len(_tick_and_run(defs, instance)) == len(landing_fed_tables())  # one day landed
    assert _events_per_day_and_name(warehouse) == {k: v for k, v in LOGS.truth.events.items() if k[0] == DAYS[0]}
    assert _requests_per_day_and_status(warehouse) == {k: v for k, v in LOGS.truth.requests.items() if k[0] == DAYS[0]}
    stage = defs.resources["stage"]
    assert sorted((r["file"], r["line"]) for r in _rejects(stage)) == sorted(
        (f"s3://{s3_bucket}/warehouse/{m.key}", m.line) for m in LOGS.truth.malformed if f"day={DAYS[0]}" in m.key
    )


def _summary(rejected, lines, limit=0.02):
    first = [{"file": "s3://b/landing/logs/app_events/day=2026-11-03/a.jsonl", "line": 7, "reason": "not a JSON object", "text": "x"}]
    return StructuringSummary(lines, lines - rejected, rejected, limit, "s3://b/rejects.jsonl", first if rejected else [])


def test_rejected_lines_passes_at_zero_warns_above_zero_and_errs_above_the_declared_share():
    spec = table("app_events")
    clean = evaluations.rejected_lines(spec, _summary(0, 1000))
    assert clean.passed
    few = evaluations.rejected_lines(spec, _summary(20, 1000))  # 2.0%: at the limit
    assert not few.passed and few.severity == dg.AssetCheckSeverity.WARN
    assert "s3://b/landing/logs/app_events/day=2026-11-03/a.jsonl line 7" in few.description
    many = evaluations.rejected_lines(spec, _summary(21, 1000))  # 2.1%: above it
    assert not many.passed and many.severity == dg.AssetCheckSeverity.ERROR


def test_a_day_of_mostly_broken_lines_fails_rejected_lines_and_is_not_loaded(logs_platform):
    defs, instance, root, warehouse = logs_platform
    good = [f for f in ON_TIME if f.day == DAYS[0] and "access_log" in f.key]
    land_in_folder(root, good)
    broken = root / f"landing/logs/access_log/day={DAYS[0]}/broken.log"
    broken.write_text("this is not an access log line\n" * 500)
    [request] = landing_requests(defs, instance)
    result = run_request(defs, instance, request, raise_on_error=False)
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "rejected_lines"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR and check.metadata["rejected_lines"].value >= 500
    # Blocking: the load of the day did not run.
    assert not [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(["raw_data", "access_log"])]


def test_a_landed_file_cut_into_pieces_stages_the_same_bytes_and_rejects_with_the_same_line_numbers(tmp_path, monkeypatch):
    from warehouse_platform.stage import log_structuring
    from warehouse_platform.stage.landed_files import LandedFiles
    from warehouse_platform.stage.storage import LocalFolderStage

    files = [f for f in ON_TIME if f.day == DAYS[0] and "app_events" in f.key]
    stage = LocalFolderStage(root=str(tmp_path))
    land_in_folder(tmp_path, files)
    landed = LandedFiles(table("app_events"), tuple((f.key, f"version-of-{f.key}") for f in files))

    def staged(prefix):
        batch, summary = log_structuring.structure_landed_logs(stage, prefix, str(DAYS[0]), landed, slice_count=2)
        return [p.sha256 for p in batch.parts], stage.read_text(f"{prefix}/rejects.jsonl"), summary.lines_read

    whole = staged("whole")
    monkeypatch.setattr(log_structuring, "PIECE_BYTES", 4096)  # a few lines a piece: many cuts
    assert staged("pieces") == whole
    assert whole[2] == sum(len(_lines(f)) for f in files)


def test_pieces_are_read_while_the_next_are_cut_few_wait_on_disk_and_a_failed_read_fails_the_step(tmp_path, monkeypatch):
    """A reader inserts the pieces as they are cut: the scratch folder never holds more than
    PIECES_AHEAD + 1 pieces, every line arrives once at its number, and a piece DuckDB cannot
    read fails the step with DuckDB's error instead of leaving the cutting thread waiting; a piece
    read as nothing fails it too."""
    import duckdb

    from warehouse_platform.logs import structuring_sql
    from warehouse_platform.stage import log_structuring
    from warehouse_platform.stage.landed_files import LandedFiles
    from warehouse_platform.stage.storage import LocalFolderStage

    files = [f for f in ON_TIME if f.day == DAYS[0] and "app_events" in f.key]
    stage = LocalFolderStage(root=str(tmp_path))
    land_in_folder(tmp_path, files)
    landed = LandedFiles(table("app_events"), tuple((f.key, f"version-of-{f.key}") for f in files))
    # Read 512 bytes at a time and cut a piece every 2 KB or so: many pieces from a small day.
    monkeypatch.setattr(log_structuring, "PIECE_BYTES", 2048)
    monkeypatch.setattr(log_structuring, "READ_BYTES", 512)
    real_sql, waiting, fail_at = structuring_sql.lines_of_piece_sql, [], [None]

    def counting(path, *args):
        waiting.append(sum(1 for p in os.listdir(os.path.dirname(path)) if p.startswith("landed-")))
        if len(waiting) == fail_at[0]:
            return real_sql(path, *args).replace("INSERT INTO landed_lines", "INSERT INTO no_such_table")
        return real_sql(path, *args)

    monkeypatch.setattr(structuring_sql, "lines_of_piece_sql", counting)
    batch, summary = log_structuring.structure_landed_logs(stage, "counted", str(DAYS[0]), landed, slice_count=2)
    assert len(waiting) > 8 and max(waiting) <= log_structuring.PIECES_AHEAD + 1
    assert summary.lines_read == sum(len(_lines(f)) for f in files) == batch.row_count + summary.rejected

    waiting.clear()
    fail_at[0] = 5
    with pytest.raises(duckdb.CatalogException, match="no_such_table"):
        log_structuring.structure_landed_logs(stage, "failed", str(DAYS[0]), landed, slice_count=2)
    assert not stage.list_objects("failed/")  # nothing staged

    # read_text reads a file that is not there as no rows: the count of lines cut catches it.
    waiting.clear()
    monkeypatch.setattr(structuring_sql, "lines_of_piece_sql", lambda path, *args: real_sql("/no/such/piece.txt", *args))
    with pytest.raises(AssertionError, match=r"landed lines were cut, DuckDB read 0"):
        log_structuring.structure_landed_logs(stage, "lost", str(DAYS[0]), landed, slice_count=2)
    assert not stage.list_objects("lost/")


def test_a_large_day_kept_in_duckdbs_database_file_stages_the_bytes_and_key_evidence_of_a_small_one(tmp_path, monkeypatch):
    """A day of more than LARGE_DAY_LINES lines keeps its structured rows in DuckDB's database file
    in the scratch folder (in memory, 10M lines held DuckDB's whole memory limit and the ordered
    export failed): the same parts, rejects and repeated keys as the in-memory path."""
    from types import SimpleNamespace

    from warehouse_platform.logs import structuring_sql
    from warehouse_platform.stage import log_structuring
    from warehouse_platform.stage.landed_files import LandedFiles
    from warehouse_platform.stage.storage import LocalFolderStage

    files = [f for f in ON_TIME if f.day == DAYS[0] and "app_events" in f.key]
    repeated = "".join(json.dumps({"event_id": "e-repeated", "event": "page_view", "user_id": n,
                                   "ts": "2026-11-03T01:00:00Z"}) + "\n" for n in range(40)).encode()
    files += [SimpleNamespace(key=f"landing/logs/app_events/day={DAYS[0]}/repeats-{n}.jsonl", data=repeated) for n in (1, 2)]
    stage = LocalFolderStage(root=str(tmp_path))
    land_in_folder(tmp_path, files)
    landed = LandedFiles(table("app_events"), tuple((f.key, f"version-of-{f.key}") for f in files))
    kinds = []
    real_structure_sql = structuring_sql.structure_sql
    monkeypatch.setattr(structuring_sql, "structure_sql", lambda spec, temporary=True: kinds.append(temporary) or real_structure_sql(spec, temporary))

    def staged(prefix):
        batch, summary = log_structuring.structure_landed_logs(stage, prefix, str(DAYS[0]), landed, slice_count=2)
        return [p.sha256 for p in batch.parts], batch.duplicate_candidates, stage.read_text(f"{prefix}/rejects.jsonl")

    small = staged("small")
    monkeypatch.setattr(log_structuring, "LARGE_DAY_LINES", 25)
    assert staged("large") == small
    assert kinds == [True, False] and ("e-repeated",) in small[1]
    assert "TEMP" not in real_structure_sql(table("app_events"), temporary=False).split(" AS")[0]


def test_a_structured_value_with_quotes_newlines_commas_and_non_ascii_reaches_the_warehouse_exactly_and_a_repeated_event_id_is_named(logs_platform):
    """DuckDB writes the staged CSV itself: every character that CSV treats specially arrives as
    it was, empty text is NULL (the stage's rule), and rows come in key order, so the manifest
    names a repeated event_id exactly."""
    from types import SimpleNamespace

    from warehouse_platform.staged_files.manifest import MANIFEST_NAME, StagedBatch

    defs, instance, root, warehouse = logs_platform
    page = 'a "quoted", comma\nnew line\r\n한국어 café'
    properties = {"page": page, "note": 'say "hi", ok', "nested": {"k": "v,\"w\""}, "blank": ""}
    events = [
        {"event_id": "e-tricky", "event": "page_view", "user_id": 7, "session_id": "", "ts": "2026-11-03T09:00:00.5+09:00",
         "properties": properties},
        {"event_id": "e-twice", "event": "page_view", "user_id": 8, "ts": "2026-11-03T01:00:00Z", "properties": {"page": "/1"}},
        {"event_id": "e-other", "event": "page_view", "user_id": 8, "ts": "2026-11-03T02:00:00Z", "properties": {}},
        {"event_id": "e-twice", "event": "page_view", "user_id": 8, "ts": "2026-11-03T01:00:00Z", "properties": {"page": "/2"}},
    ]
    data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode()
    land_in_folder(root, [SimpleNamespace(key=f"landing/logs/app_events/day={DAYS[0]}/crafted.jsonl", data=data)])
    [request] = landing_requests(defs, instance)
    run_request(defs, instance, request)

    rows = warehouse.query(
        "SELECT event_id, page, sessionid, properties, event_ts, landed_line FROM raw_data.app_events ORDER BY event_id"
    )
    by_id = {r[0]: r for r in rows}
    assert sorted(by_id) == ["e-other", "e-tricky", "e-twice"]  # the repeated id loaded once
    _, loaded_page, session, loaded_properties, ts, _ = by_id["e-tricky"]
    assert loaded_page == page
    assert session is None  # empty text is NULL
    assert loaded_properties == properties  # JSON whole (jsonb), quotes and empty strings inside kept
    assert str(ts) == "2026-11-03 00:00:00.500000"  # UTC, no offset
    assert by_id["e-twice"][5] == 2  # dedupe_order: the first landed line wins

    [manifest] = [o.key for o in root_stage(defs).list_objects("raw_data/app_events/") if o.key.endswith(MANIFEST_NAME)]
    batch = StagedBatch.from_manifest_json(root_stage(defs).read_text(manifest), manifest)
    assert batch.duplicate_candidates == (("e-twice",),)


def root_stage(defs):
    return defs.resources["stage"]
