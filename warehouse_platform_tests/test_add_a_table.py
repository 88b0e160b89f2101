"""Adding tables is a catalog entry, a dbt source and a model: two tables added to a copy of the
catalog only through YAML, one daily with an integer key and one whole-table with a composite
key, load end to end (stage, load, checks, a dbt model) on the embedded warehouse."""

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
import yaml

# What reads a new table from the source: the extract SELECT generated from its declared
# columns. Imported plainly: if it broke, this module fails, it is never skipped.
import warehouse_platform.sql.extract  # noqa: F401
from warehouse_platform.catalog import CATALOG_PATH, load_catalog
from warehouse_platform.sample_data.session_generator import GeneratorConfig
from warehouse_platform.transform.project import DBT_PROJECT_DIR
from warehouse_platform_tests.platform_runs import (
    platform_definitions,
    run_job,
    seed,
)

DAY = "2026-11-05"

# What a user appends to defs/raw_data/defs.yaml (README "Add a table").
NEW_ENTRIES = """\
- name: purchase_event
  description: Purchases as the billing service records them. One row per event.
  source: {table: app.purchase_events}
  partitioning: {daily_by: happened_at}
  columns:
    - {name: eventid, type: int, nullable: false, encoding: az64, description: Event id.}
    - {name: plan, type: varchar(16), nullable: false, encoding: bytedict, description: Plan bought.}
    - {name: currency, type: char(3), nullable: false, encoding: bytedict, description: ISO currency.}
    - {name: happened_at, type: timestamp, nullable: false, encoding: az64, description: When it was bought.}
  primary_key: [eventid]
  mode: replace
  distribution: {style: KEY, key: eventid, sort_key: [happened_at]}
- name: plan_price
  description: The price of each plan in each currency. Small; replaced whole on every load.
  source: {table: app.plan_prices}
  partitioning: whole_table
  columns:
    - {name: plan, type: varchar(16), nullable: false, description: Plan.}
    - {name: currency, type: char(3), nullable: false, description: ISO currency.}
    - {name: price, type: int, nullable: false, description: Price in the currency's minor unit.}
  primary_key: [plan, currency]
  mode: replace
  distribution: {style: ALL}
"""

NEW_SOURCES = [
    {"name": "purchase_event", "description": "Purchases from the billing service."},
    {"name": "plan_price", "description": "Plan prices per currency."},
]

NEW_MODEL = """\
select e.plan, e.currency, count(*) as purchases, sum(p.price) as revenue
from {{ source('raw_data', 'purchase_event') }} e
join {{ source('raw_data', 'plan_price') }} p on p.plan = e.plan and p.currency = e.currency
group by 1, 2
"""

SOURCE_SQL = """
CREATE TABLE app.purchase_events (eventid int PRIMARY KEY, plan text NOT NULL, currency text NOT NULL,
                                  happened_at timestamp NOT NULL);
INSERT INTO app.purchase_events VALUES
  (900000001, 'basic', 'KRW', '2026-11-05 09:00'), (900000002, 'pro', 'KRW', '2026-11-05 10:30'),
  (900000003, 'pro', 'USD', '2026-11-05 23:59'), (900000004, 'pro', 'USD', '2026-11-06 00:00');
CREATE TABLE app.plan_prices (plan text, currency text, price int, PRIMARY KEY (plan, currency));
INSERT INTO app.plan_prices VALUES ('basic', 'KRW', 9900), ('pro', 'KRW', 19900), ('pro', 'USD', 1500),
                                   ('basic', 'USD', 800);
"""


def _catalog_with_new_tables(folder: Path) -> Path:
    document = yaml.safe_load(CATALOG_PATH.read_text())
    document["attributes"]["tables"] += yaml.safe_load(NEW_ENTRIES)
    path = folder / "defs.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _dbt_project_with_new_model(folder: Path) -> Path:
    project = folder / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    sources_file = project / "models" / "sources.yml"
    sources = yaml.safe_load(sources_file.read_text())
    [raw_data] = [s for s in sources["sources"] if s["name"] == "raw_data"]
    raw_data["tables"] += NEW_SOURCES
    sources_file.write_text(yaml.safe_dump(sources, sort_keys=False))
    (project / "models" / "analytics" / "plan_revenue.sql").write_text(NEW_MODEL)
    return project


@pytest.fixture
def platform_with_two_new_tables(platform_env, tmp_path):
    seed(platform_env["source"], date.fromisoformat(DAY), 1, GeneratorConfig(scale=0.1))
    conn = platform_env["source"].connect()
    with conn, conn.cursor() as cur:
        cur.execute(SOURCE_SQL)
    conn.close()
    tables = load_catalog(_catalog_with_new_tables(tmp_path))
    defs = platform_definitions(tables, dbt_project_dir=_dbt_project_with_new_model(tmp_path))
    return platform_env, defs


def test_two_tables_added_only_through_yaml_load_end_to_end(platform_with_two_new_tables):
    env, defs = platform_with_two_new_tables
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey(["raw_data", "plan_price"])).parent_keys == {dg.AssetKey(["stage", "raw_data", "plan_price"])}
    assert {dg.AssetKey(["raw_data", "purchase_event"]), dg.AssetKey(["raw_data", "plan_price"])} <= graph.get(
        dg.AssetKey(["analytics", "plan_revenue"])).parent_keys
    with dg.instance_for_test() as instance:
        # The daily table joins the day's job; the whole-table one load_whole_tables; dbt reads both.
        daily = run_job(defs, "extract_and_load_day", instance, DAY)
        whole = run_job(defs, "load_whole_tables", instance)
        analytics = run_job(defs, "build_analytics", instance)
    warehouse = env["warehouse"]
    assert warehouse.query("SELECT eventid, plan, currency, _partition_date::text FROM raw_data.purchase_event ORDER BY 1") == [
        (900000001, "basic", "KRW", DAY), (900000002, "pro", "KRW", DAY), (900000003, "pro", "USD", DAY),
    ]
    assert warehouse.query("SELECT plan, currency, price FROM raw_data.plan_price ORDER BY 1, 2") == [
        ("basic", "KRW", 9900), ("basic", "USD", 800), ("pro", "KRW", 19900), ("pro", "USD", 1500),
    ]
    assert warehouse.query("SELECT plan, currency, purchases, revenue FROM analytics.plan_revenue ORDER BY 1, 2") == [
        ("basic", "KRW", 1, 9900), ("pro", "KRW", 1, 19900), ("pro", "USD", 1, 1500),
    ]
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for result in (daily, whole, analytics) for e in result.get_asset_check_evaluations()
    }
    for table in ("purchase_event", "plan_price"):
        assert evaluations[(f"raw_data/{table}", "duplicate_primary_keys")], table
        assert evaluations[(f"raw_data/{table}", "rows_staged_equal_rows_loaded")], table
        assert evaluations[(f"stage/raw_data/{table}", "redshift_type_limits")], table
