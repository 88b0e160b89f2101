"""A day of landed logs holding one file of each bad kind beside good files, through real landing
sensor ticks and real runs (DuckDB structuring, stage, COPY into the embedded Postgres, checks),
in the folder stage and on moto's S3: every good line is loaded, every bad line or unreadable
file is one reject with its file, line and reason, and lines read = rows + rejects."""

import gzip
import json
import os
import zlib
from datetime import date

import boto3
import dagster as dg
import pytest

from warehouse_platform import environment
from warehouse_platform.logs.reject_reasons import RejectReason
from warehouse_platform.sample_data.log_generator import generate_logs
from warehouse_platform.sample_data.session_generator import GeneratorConfig
from warehouse_platform.stage.storage import LocalFolderStage
from warehouse_platform_tests.platform_runs import landing_requests, platform_definitions, run_request

DAY = date(2026, 11, 3)
FOLDER = f"landing/logs/app_events/day={DAY}"
ACCESS_FOLDER = f"landing/logs/access_log/day={DAY}"
GOOD_LOGS = generate_logs([DAY], GeneratorConfig(scale=0.3), malformed=False)
R = RejectReason
UNREADABLE = f"{FOLDER}/unreadable.jsonl"


def _event(event_id: str, **changes) -> str:
    values = {"event_id": event_id, "event": "page_view", "user_id": 7, "ts": f"{DAY}T01:00:00Z", "properties": {"page": "/a"}}
    return json.dumps({**values, **changes}, ensure_ascii=False)


def _text(*lines: str | bytes) -> bytes:
    return b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)


def _bad_day():
    """(files to land, the event id of each good line among them, {(key, line): kind} of the rejects)."""
    files, good, rejects = {}, [], {}

    def add(name, data, good_ids, bad):
        files[f"{FOLDER}/{name}"] = data
        good.extend(sorted(good_ids))
        rejects.update({(f"{FOLDER}/{name}", line): kind for line, kind in bad.items()})

    add("not-utf8.jsonl", _text(_event("u1"), _event("u2", properties={"page": "/x"}).encode().replace(b"/x", b"/caf\xe9"), _event("u3")),
        {"u1", "u3"}, {2: R.NOT_UTF8})
    add("nul.jsonl", _text(_event("n1").encode().replace(b"/a", b"/a\x00")), set(), {1: R.NUL_BYTE})
    add("nul-escape.jsonl", _text(_event("z1"), _event("z2", properties={"page": "a\u0000b"})), {"z1"}, {2: R.NUL_ESCAPE})
    add("bom.jsonl", b"\xef\xbb\xbf" + _text(_event("b1"), _event("b2")), {"b1", "b2"}, {})
    add("long.jsonl", _text(_event("l1"), _event("l2", properties={"page": "p" * (2 << 20)}), _event("l3")), {"l1", "l3"}, {2: R.TOO_LONG})
    add("repeated-key.jsonl", _text(_event("k1").replace('"user_id": 7', '"user_id": 7, "user_id": 8')), set(), {1: R.DUPLICATE_KEY})
    add("fraction.jsonl", _text(_event("f1", user_id=1.5), _event("f2", user_id=2)), {"f2"}, {1: R.FRACTION})
    add("wide.jsonl", _text(_event("w" * 37), _event("w2")), {"w2"}, {1: R.TOO_WIDE})
    add("plain-named-gz.jsonl.gz", _text(_event("p1"), _event("p2")), {"p1", "p2"}, {})
    whole = gzip.compress(_text(*(_event(f"t{i}") for i in range(3000))), mtime=0)
    cut = whole[: len(whole) // 2]
    complete = zlib.decompressobj(wbits=31).decompress(cut).count(b"\n")
    add("truncated.jsonl.gz", cut, {f"t{i}" for i in range(complete)}, {complete + 1: R.BROKEN_STREAM})
    add("unreadable.jsonl", _text(_event("g1")), set(), {1: R.UNREADABLE_FILE})

    access_line = '10.0.0.7 - - [03/Nov/2026:09:00:00 +0900] "GET /a HTTP/1.1" 200 512 "-" "agent-%s"'
    files[f"{ACCESS_FOLDER}/not-utf8.log"] = _text(access_line % "ok", (access_line % "caf\xe9").encode("latin-1"))
    rejects[(f"{ACCESS_FOLDER}/not-utf8.log", 2)] = R.NOT_UTF8
    for f in GOOD_LOGS.files:
        files[f.key] = f.data
        if "/app_events/" in f.key:
            good.extend(json.loads(line)["event_id"] for line in (gzip.decompress(f.data) if f.key.endswith(".gz") else f.data).decode().splitlines())
    return files, good, rejects


@pytest.mark.parametrize("stage_kind", ["folder", "s3"])
def test_a_day_with_one_file_of_each_bad_kind_loads_every_good_line_and_rejects_each_bad_line_or_file_at_its_place(
    platform_env, stage_kind, request, monkeypatch,
):
    if stage_kind == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        monkeypatch.setenv("PLATFORM_STAGE_URL", f"s3://{bucket}/warehouse")
        client = boto3.client("s3", endpoint_url=os.environ["PLATFORM_S3_ENDPOINT_URL"], region_name="us-east-1")

        def put(key, data):
            # An archived object (a lifecycle rule moved it to Glacier): listed, but GET is refused.
            archived = {"StorageClass": "GLACIER"} if key == UNREADABLE else {}
            client.put_object(Bucket=bucket, Key=f"warehouse/{key}", Body=data, **archived)
    else:
        root = platform_env["stage_root"]

        def put(key, data):
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(data)

        # A file the worker may not read (a shipper's 0600 file): the tests run as root, whom
        # permissions do not stop, so the refusal is the OS error the worker would meet.
        opened = LocalFolderStage.open_binary

        def open_binary(self, key):
            if key == UNREADABLE:
                raise PermissionError(13, "Permission denied", str(self._path(key)))
            return opened(self, key)

        monkeypatch.setattr(LocalFolderStage, "open_binary", open_binary)

    defs = platform_definitions()
    stage = defs.resources["stage"]
    warehouse = environment.build_warehouse().process_config_and_initialize()
    files, good_lines, expected_rejects = _bad_day()
    for key, data in files.items():
        put(key, data)
    with dg.instance_for_test() as instance:
        requests = landing_requests(defs, instance)
        assert len(requests) == 2  # app_events and access_log, one day
        results = [run_request(defs, instance, r) for r in requests]

    loaded = [event_id for (event_id,) in warehouse.query("SELECT event_id FROM raw_data.app_events")]
    # Every good line, once per event id (a retried send, repeated by the generator, is loaded once).
    assert len(loaded) == len(set(loaded)) and set(loaded) == set(good_lines)

    found = {}
    for obj in stage.list_objects("raw_data/"):
        if obj.key.endswith("/rejects.jsonl"):
            for line in stage.read_text(obj.key).splitlines():
                reject = json.loads(line)
                found[(reject["file"], reject["line"])] = R.of(reject["reason"])
    generator_rejects = {(stage.url_for(m.key), m.line) for m in GOOD_LOGS.truth.malformed}
    assert {k: v for k, v in found.items() if k not in generator_rejects} == {
        (stage.url_for(key), line): kind for (key, line), kind in expected_rejects.items()
    }

    for result in results:
        [stage_event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[0] == "stage"]
        meta = {k: v.value for k, v in stage_event.materialization.metadata.items()}
        assert meta["lines_read"] == meta["dagster/row_count"] + meta["rejected_lines"]
        [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "rejected_lines"]
        # Counted, unreadable file included; WARN only: the day's share stays under the declared 2%.
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    app_meta = {
        k: v.value for r in results for e in r.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["stage", "raw_data", "app_events"]) for k, v in e.materialization.metadata.items()
    }
    assert app_meta["rejected_lines"] == sum(1 for (key, _) in expected_rejects if "/app_events/" in key)
    assert app_meta["dagster/row_count"] == len(good_lines)


def test_an_access_line_shipped_in_two_files_loads_once_and_a_repeat_inside_a_file_twice(logs_platform):
    """Occurrences are counted within a file (docs/logs.md): the same request in two shippers' files
    is one request; two identical lines in one file are two (a double click within a second)."""
    defs, instance, root, warehouse = logs_platform
    line = '10.0.0.7 - - [03/Nov/2026:09:00:00 +0900] "GET /a HTTP/1.1" 200 512 "-" "curl/8"'
    other = '10.0.0.8 - - [03/Nov/2026:09:00:01 +0900] "GET /b HTTP/1.1" 200 512 "-" "curl/8"'
    for name, data in {"a.log": _text(line, line, other), "b.log": _text(line, other)}.items():
        (root / ACCESS_FOLDER).mkdir(parents=True, exist_ok=True)
        (root / ACCESS_FOLDER / name).write_bytes(data)
    [request] = landing_requests(defs, instance)
    run_request(defs, instance, request)
    assert sorted(warehouse.query("SELECT path, count(*) FROM raw_data.access_log GROUP BY 1")) == [("/a", 2), ("/b", 1)]
