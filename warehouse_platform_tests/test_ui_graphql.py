"""What the UI shows, asked the way the UI asks: GraphQL queries against the code location
loaded in process (as `dg dev` serves it), on an instance where a small demo-like run has
happened (one day loaded, analytics built).

The `ui` fixture answers any query the webapp sends."""

import re
from datetime import date

import dagster as dg
import pytest

from warehouse_platform.catalog import CATALOG_PATH, load_catalog
from warehouse_platform.cli import land_and_load_logs
from warehouse_platform.instance.runs import CODE_LOCATION, run_code_location_job
from warehouse_platform.quality.checks import ON_A_DAILY_TABLE
from warehouse_platform.sample_data.session_generator import GeneratorConfig
from warehouse_platform.transform.lineage_table import lineage_markdown
from warehouse_platform_tests.platform_runs import code_location_workspace, graphql_of, platform_definitions, seed

DAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def ui(module_platform_env):
    """A GraphQL request context over the code location, as `dg dev` serves it (the defs
    folder, loaded in this process), on an instance that has run a day and the analytics."""
    seed(module_platform_env["source"], DAY, 1, GeneratorConfig(scale=0.05))
    defs = platform_definitions()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    with dg.instance_for_test() as instance:
        for job, partition in (("extract_and_load_day", DAY.isoformat()), ("load_whole_tables", None), ("build_analytics", None)):
            assert run_code_location_job(defs, job, instance, partition_key=partition, run_config=quiet).success
        # The demo's landing runs: the day's logs dropped in the stage, what the landing sensor asks for run.
        assert all(result.success for result in land_and_load_logs(defs, instance, DAY, 1, 0.05))
        with code_location_workspace(instance) as process_context:
            yield graphql_of(process_context)


ASSETS = """
{
  assetNodes {
    assetKey { path }
    description
    owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    kinds
    metadataEntries {
      label
      ... on TextMetadataEntry { text }
      ... on TableSchemaMetadataEntry { schema { columns { name type description } } }
      ... on CodeReferencesMetadataEntry {
        codeReferences { ... on LocalFileCodeReference { filePath lineNumber } ... on UrlCodeReference { url } }
      }
    }
    assetMaterializations(limit: 1) {
      metadataEntries {
        label
        ... on TableSchemaMetadataEntry { schema { columns { name type } } }
        ... on TableColumnLineageMetadataEntry { lineage { columnName columnDeps { assetKey { path } columnName } } }
        ... on MarkdownMetadataEntry { mdStr }
      }
    }
    assetChecksOrError { ... on AssetChecks { checks { name description } } }
  }
}
"""


@pytest.fixture(scope="module")
def assets(ui) -> dict[str, dict]:
    return {"/".join(node["assetKey"]["path"]): node for node in ui(ASSETS)["assetNodes"]}


def _entry(entries: list[dict], label: str) -> dict | None:
    return next((e for e in entries if e["label"] == label), None)


def _columns(entries: list[dict]) -> list[dict] | None:
    entry = _entry(entries, "dagster/column_schema")
    return entry["schema"]["columns"] if entry else None


def _latest(node: dict) -> list[dict]:
    return node["assetMaterializations"][0]["metadataEntries"] if node["assetMaterializations"] else []


def _models(assets: dict[str, dict]) -> dict[str, dict]:
    return {key: node for key, node in assets.items() if "dbt" in node["kinds"]}


def test_every_asset_has_an_owner_a_description_and_a_column_schema(assets):
    assert {"source/app/sessions", "stage/raw_data/users", "raw_data/channel", "analytics/mau", "stage/exports/mau"} <= set(assets)
    for key, node in assets.items():
        assert node["owners"], f"{key} has no owner"
        assert node["description"], f"{key} has no description"
        columns = _columns(node["metadataEntries"])
        assert columns, f"{key} shows no column schema"
        assert all(c["name"] and c["type"] and c["type"] != "?" for c in columns), f"{key}: a column without a type"


def test_every_check_has_a_description(assets):
    checks = [(key, check) for key, node in assets.items() for check in node["assetChecksOrError"]["checks"]]
    assert any(key.startswith("analytics/") for key, _ in checks) and any(key.startswith("raw_data/") for key, _ in checks)
    assert [f"{key}:{c['name']}" for key, c in checks if not c["description"]] == []


def test_dbt_models_list_every_column_with_the_type_the_warehouse_reports_after_a_build(assets):
    models = _models(assets)
    assert {"analytics/session_summary", "analytics/channel_summary", "analytics/mau"} <= set(models)
    for key, node in models.items():
        declared = _columns(node["metadataEntries"])
        built = _columns(_latest(node))
        assert built, f"{key}: its materialization has no column schema"
        # schema.yml documents every column the model builds, in order, with the type it gets.
        assert [(c["name"], c["type"]) for c in built] == [(c["name"], c["type"]) for c in declared], key
        assert all(c["description"] for c in declared), key


def test_dbt_models_show_column_lineage_to_the_tables_they_read(assets):
    lineage = _entry(_latest(assets["analytics/channel_summary"]), "dagster/column_lineage")["lineage"]
    deps = {entry["columnName"]: {("/".join(d["assetKey"]["path"]), d["columnName"]) for d in entry["columnDeps"]} for entry in lineage}
    assert deps["net_revenue"] == {("analytics/session_summary", "amount"), ("analytics/session_summary", "refunded")}
    lineage = _entry(_latest(assets["analytics/session_summary"]), "dagster/column_lineage")["lineage"]
    deps = {entry["columnName"]: {("/".join(d["assetKey"]["path"]), d["columnName"]) for d in entry["columnDeps"]} for entry in lineage}
    assert deps["ts"] == {("raw_data/session_timestamp", "ts")}


def test_dbt_model_pages_show_the_schema_description_and_link_the_sql_file(assets):
    for key, node in _models(assets).items():
        assert "Raw SQL" not in node["description"] and "select" not in node["description"].lower(), key
        references = _entry(node["metadataEntries"], "dagster/code_references")["codeReferences"]
        model = key.split("/")[-1]
        assert any((r.get("filePath") or r.get("url") or "").endswith(f"models/analytics/{model}.sql") for r in references), key


def test_no_asset_shows_an_unserializable_value(assets):
    for key, node in assets.items():
        for entry in node["metadataEntries"]:
            assert "(unserializable)" not in (entry.get("text") or "") or entry["label"] in HIDDEN_BY_THE_UI, (key, entry["label"])


# The webapp hides these labels (HIDDEN_METADATA_ENTRY_LABELS in dagster-webserver's asset
# metadata view); dagster-dbt needs them in process.
HIDDEN_BY_THE_UI = {"dagster_dbt/manifest", "dagster_dbt/dagster_dbt_translator"}


FRESHNESS = """
query ($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      assetChecksOrError { ... on AssetChecks { checks {
        name
        executionForLatestMaterialization { status evaluation { success severity description } }
      } } }
    }
  }
}
"""


def test_a_table_whose_newest_loaded_day_is_weeks_old_reads_as_stale(ui):
    """The fixture loaded one day weeks before today: the table was written minutes ago, yet the
    page must say stale, because what analysts get is that day's data."""
    node = ui(FRESHNESS, {"path": ["raw_data", "session_timestamp"]})["assetNodeOrError"]
    checks = {c["name"]: c for c in node["assetChecksOrError"]["checks"]}
    execution = checks["newest_day_fresh"]["executionForLatestMaterialization"]
    assert execution["status"] == "FAILED"
    assert execution["evaluation"]["severity"] == "ERROR" and not execution["evaluation"]["success"]
    assert execution["evaluation"]["description"].startswith(f"stale: the newest loaded day is {DAY}")


def test_dbt_model_pages_show_column_lineage_as_a_markdown_table(assets):
    """The open-source UI draws no dagster/column_lineage; it shows a markdown entry inline when
    it is under 1,000 characters (longer ones hide behind "Show Markdown")."""
    for key, node in _models(assets).items():
        entry = _entry(_latest(node), "column_lineage")
        assert entry and entry["mdStr"].startswith("| column | computed from |"), key
        assert len(entry["mdStr"]) < 1000, (key, len(entry["mdStr"]))
        built = [c["name"] for c in _columns(_latest(node))]
        assert [line.split("|")[1].strip() for line in entry["mdStr"].splitlines()[2:]] == built, key
    table = _entry(_latest(assets["analytics/session_summary"]), "column_lineage")["mdStr"]
    assert "| ts | raw_data.session_timestamp.ts |" in table.splitlines()
    assert "| net_revenue | analytics.session_summary.amount, analytics.session_summary.refunded |" in (
        _entry(_latest(assets["analytics/channel_summary"]), "column_lineage")["mdStr"].splitlines()
    )


def _entry_line(name: str) -> int:
    """The catalog line of the entry declaring `name` (its `- name:` line), read from the file."""
    [line] = [i for i, text in enumerate(CATALOG_PATH.read_text().splitlines(), 1) if text.strip() == f"- name: {name}"]
    return line


def test_each_raw_tables_code_reference_opens_its_own_catalog_entry(assets):
    for spec in load_catalog():
        for key in (f"raw_data/{spec.name}", f"stage/raw_data/{spec.name}"):
            references = _entry(assets[key]["metadataEntries"], "dagster/code_references")["codeReferences"]
            first = references[0]
            where = first.get("filePath") or first.get("url")
            line = first.get("lineNumber") or int(re.search(r"#L(\d+)$", where).group(1))
            assert where.split("#")[0].endswith("warehouse_platform/defs/raw_data/defs.yaml"), (key, where)
            assert line == _entry_line(spec.name), key


CHECK_METADATA = """
query ($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      assetChecksOrError { ... on AssetChecks { checks {
        name
        description
        executionForLatestMaterialization { evaluation { metadataEntries { label ... on TextMetadataEntry { text } } } }
      } } }
    }
  }
}
"""


def _checks(ui, path: list[str]) -> dict[str, dict]:
    node = ui(CHECK_METADATA, {"path": path})["assetNodeOrError"]
    return {c["name"]: c for c in node["assetChecksOrError"]["checks"]}


def test_distribution_advice_for_a_daily_table_is_never_all_and_says_why(ui):
    for name in ("user_session_channel", "session_timestamp", "session_transaction"):
        skew = _checks(ui, ["raw_data", name])["distribution_skew"]
        metadata = {e["label"]: e.get("text") for e in skew["executionForLatestMaterialization"]["evaluation"]["metadataEntries"]}
        assert metadata["suggested_distribution"] == "DISTSTYLE KEY DISTKEY(sessionid)", name
        assert metadata["suggestion_reason"].endswith("(a daily table grows every day, so not ALL)."), name
        assert metadata["all_rows_bound"].startswith("100,000 rows"), name


def test_the_checks_of_a_daily_table_say_why_execute_is_greyed(ui):
    for name, check in _checks(ui, ["raw_data", "session_timestamp"]).items():
        if name != "newest_day_fresh":  # built with the freshness rule (quality/newest_day.py)
            assert check["description"].endswith(ON_A_DAILY_TABLE), name
    assert not any(ON_A_DAILY_TABLE in c["description"] for c in _checks(ui, ["raw_data", "channel"]).values())


RUNS = """
{
  runsOrError {
    ... on Runs { results { runId jobName assetSelection { path } repositoryOrigin { repositoryLocationName } } }
  }
}
"""


def test_landing_runs_are_runs_of_the_code_locations_asset_job(ui):
    """As the daemon records a sensor's runs: under the asset job of the code location, so they
    are listed with it and on the timeline."""
    runs = ui(RUNS)["runsOrError"]["results"]
    landing = [r for r in runs if ["stage", "raw_data", "app_events"] in [a["path"] for a in r["assetSelection"] or []]]
    assert landing, "no landing run recorded"
    for run in landing:
        assert run["jobName"] == "__ASSET_JOB" and run["repositoryOrigin"]["repositoryLocationName"] == CODE_LOCATION, run
    assert all(r["repositoryOrigin"] for r in runs)  # every run of the fixture, extract and analytics included


def test_the_lineage_table_lists_every_column_in_the_models_order_with_its_upstream_columns():
    lineage = dg.TableColumnLineage(
        deps_by_column={
            "net": [
                dg.TableColumnDep(dg.AssetKey(["analytics", "s"]), "refunded"),
                dg.TableColumnDep(dg.AssetKey(["analytics", "s"]), "amount"),
            ],
            "id": [dg.TableColumnDep(dg.AssetKey(["raw_data", "t"]), "id")],
        }
    )
    assert lineage_markdown(lineage, ["id", "one", "net"]).splitlines() == [
        "| column | computed from |",
        "| --- | --- |",
        "| id | raw_data.t.id |",
        "| one | (no upstream column) |",
        "| net | analytics.s.amount, analytics.s.refunded |",
    ]
