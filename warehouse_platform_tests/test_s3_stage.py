"""The S3 stage path against a real S3 HTTP endpoint (moto's server on 127.0.0.1)."""

import json
from datetime import date

import boto3
import dagster as dg

from warehouse_platform.sample_data.session_generator import GeneratorConfig, generate_day
from warehouse_platform_tests.platform_runs import (
    materialization_metadata,
    platform_definitions,
    run_job,
    seed,
)

DAY = date(2026, 11, 3)
CONFIG = GeneratorConfig(scale=0.2)


def test_a_day_staged_on_s3_and_loaded_into_the_warehouse(platform_env, s3_bucket, s3_endpoint, monkeypatch):
    monkeypatch.setenv("PLATFORM_STAGE_URL", f"s3://{s3_bucket}/stage")
    monkeypatch.setenv("PLATFORM_SLICE_COUNT", "2")
    seed(platform_env["source"], DAY, 1, CONFIG)
    defs = platform_definitions()
    assert type(defs.resources["stage"]).__name__ == "S3Stage"

    with dg.instance_for_test() as instance:
        result = run_job(defs, "extract_and_load_day", instance, DAY.isoformat())

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    day = f"stage/raw_data/session_timestamp/day={DAY.isoformat()}/"
    objects = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix=day)["Contents"]}
    # The run staged under its own batch folder, named for the run.
    [prefix] = {k[: k.index("/", len(day)) + 1] for k in objects}
    assert prefix.startswith(day + "batch=") and prefix.endswith(f"-{result.run_id}/")
    manifest = json.loads(s3.get_object(Bucket=s3_bucket, Key=prefix + "manifest.json")["Body"].read())

    parts = [k for k in objects if k.endswith(".csv.gz")]
    assert len(parts) % 2 == 0 and len(parts) == len(manifest["entries"])
    for entry in manifest["entries"]:
        assert entry["url"].startswith(f"s3://{s3_bucket}/{prefix}") and entry["mandatory"] is True
        key = entry["url"].removeprefix(f"s3://{s3_bucket}/")
        assert entry["meta"]["content_length"] == objects[key]
        file = manifest["batch"]["files"][entry["url"]]
        assert file["checksum"].startswith("sha256:")
        assert file["widest"]["sessionid"]["bytes"] == 32  # text widths travel with the files
    sessions = len(generate_day(DAY, CONFIG).sessionid)
    assert sum(e["meta"]["record_count"] for e in manifest["entries"]) == sessions

    meta = materialization_metadata(result, ["raw_data", "session_timestamp"])
    assert meta["rows_loaded"] == meta["dagster/partition_row_count"] == sessions
    stage_meta = materialization_metadata(result, ["stage", "raw_data", "session_timestamp"])
    assert stage_meta["manifest"] == f"s3://{s3_bucket}/{prefix}manifest.json"


def test_a_restaged_day_on_s3_leaves_only_the_newest_batch(platform_env, s3_bucket, s3_endpoint, monkeypatch):
    monkeypatch.setenv("PLATFORM_STAGE_URL", f"s3://{s3_bucket}/stage")
    seed(platform_env["source"], DAY, 1, CONFIG)
    defs = platform_definitions()
    with dg.instance_for_test() as instance:
        first = run_job(defs, "extract_and_load_day", instance, DAY.isoformat())
        second = run_job(defs, "extract_and_load_day", instance, DAY.isoformat())
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    day = f"stage/raw_data/session_timestamp/day={DAY.isoformat()}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix=day)["Contents"]]
    assert keys and all(f"-{second.run_id}/" in k for k in keys), "the first run's batch is gone"
    assert not any(first.run_id in k for k in keys)
    meta = materialization_metadata(second, ["raw_data", "session_timestamp"])
    assert meta["already_loaded"]  # same bytes under a new batch folder: nothing loaded twice


def test_deleting_more_keys_than_one_request_takes_leaves_none_on_s3(s3_bucket, s3_endpoint):
    """DeleteObjects takes 1,000 keys: 1,001 stale keys are two requests, the second with a lone key."""
    from dagster_aws.s3 import S3Resource

    from warehouse_platform.stage.s3_storage import S3Stage

    stage = S3Stage(s3=S3Resource(endpoint_url=s3_endpoint, region_name="us-east-1"), bucket=s3_bucket, prefix="stage")
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = [f"raw_data/session_timestamp/day=2026-11-03/batch=old/part-{i:05d}.csv.gz" for i in range(1001)]
    for key in keys:
        s3.put_object(Bucket=s3_bucket, Key=f"stage/{key}", Body=b"stale")
    keep = "raw_data/session_timestamp/day=2026-11-03/batch=new/part-00000.csv.gz"
    s3.put_object(Bucket=s3_bucket, Key=f"stage/{keep}", Body=b"current")
    assert len(stage.list_objects("raw_data/session_timestamp/day=2026-11-03/batch=old/")) == 1001

    stage.delete(keys)
    assert stage.list_objects("raw_data/session_timestamp/day=2026-11-03/batch=old/") == []
    assert [o.key for o in stage.list_objects("raw_data/")] == [keep]
