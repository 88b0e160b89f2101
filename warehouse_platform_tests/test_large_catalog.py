"""A catalog of 200 tables (the one `make bench-catalog` times) validates and becomes definitions
holding exactly what each of its entries declares: not timed here, only counted."""

import dagster as dg
import pytest

from warehouse_platform.benchmarks.catalog_benchmark import MODULE, generated_kinds, shipped_table_count, write_project
from warehouse_platform.catalog import CATALOG_PATH, load_catalog
from warehouse_platform.conventions import check_names
from warehouse_platform.conventions.asset_keys import raw_asset_key, stage_asset_key
from warehouse_platform.definitions import build_definitions, code_location

TABLES = 200

# What one generated table of each kind becomes: its assets (source, stage, raw) and its checks.
# Every table: duplicate keys, skew, rows staged = rows loaded, type limits. A table read from the
# source adds its source asset and source parity; a daily one the newest day and row volume.
ASSETS_PER_KIND = {"daily": 3, "whole": 3, "landed": 2}
CHECKS_PER_KIND = {"daily": 4 + 1 + 2, "whole": 4 + 1, "landed": 4 + 2}


@pytest.fixture(scope="module")
def large_catalog_project(tmp_path_factory):
    return write_project(tmp_path_factory.mktemp("catalog200"), TABLES)


@pytest.fixture(scope="module")
def large_definitions(large_catalog_project):
    """The code location as the scratch project serves it: the defs folder through the
    RawTableCatalog component, as `dg check defs` and the webserver load it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(large_catalog_project))
        defs = dg.load_from_defs_folder(path_within_project=large_catalog_project / MODULE)
    return code_location(defs)


def test_the_generated_catalog_holds_the_shipped_tables_and_a_mix_of_daily_whole_and_landed_ones(large_catalog_project):
    specs = load_catalog(large_catalog_project / MODULE / "defs" / "raw_data" / "defs.yaml")
    assert len(specs) == TABLES and len({s.name for s in specs}) == TABLES
    assert [s.name for s in specs[: shipped_table_count()]] == [s.name for s in load_catalog(CATALOG_PATH)]
    kinds = generated_kinds(TABLES)
    assert len(kinds) == TABLES - shipped_table_count()
    assert kinds.count("daily") > kinds.count("whole") > 0 and kinds.count("landed") > 0
    generated = specs[shipped_table_count():]
    assert sum(s.partitioned and s.source is not None for s in generated) == kinds.count("daily")
    assert sum(not s.partitioned for s in generated) == kinds.count("whole")
    assert sum(s.source is None for s in generated) == kinds.count("landed")
    assert any(s.incremental is not None for s in generated), "some whole tables are incremental"


def test_200_tables_build_every_asset_and_check_their_entries_declare(large_definitions):
    shipped = build_definitions()
    shipped_graph = shipped.resolve_asset_graph()
    graph = large_definitions.resolve_asset_graph()
    kinds = generated_kinds(TABLES)
    expected_assets = len(shipped_graph.get_all_asset_keys()) + sum(ASSETS_PER_KIND[k] for k in kinds)
    expected_checks = len(shipped_graph.asset_check_keys) + sum(CHECKS_PER_KIND[k] for k in kinds)
    assert len(graph.get_all_asset_keys()) == expected_assets
    assert len(graph.asset_check_keys) == expected_checks
    for spec in load_catalog(CATALOG_PATH):  # the shipped tables are served as before, beside the new ones
        assert {raw_asset_key(spec), stage_asset_key(spec)} <= graph.get_all_asset_keys()


def test_each_generated_kind_gets_its_own_checks(large_definitions):
    checks = large_definitions.resolve_asset_graph().asset_check_keys

    def names(table: str) -> set[str]:
        return {c.name for c in checks if c.asset_key.path[-1] == table}

    every_table = {check_names.DUPLICATE_PRIMARY_KEYS, check_names.DISTRIBUTION_SKEW,
                   check_names.ROWS_STAGED_EQUAL_ROWS_LOADED, check_names.REDSHIFT_TYPE_LIMITS}
    per_day = {check_names.ROW_VOLUME, check_names.NEWEST_DAY_FRESH}
    assert names("bench_daily_001") == every_table | per_day | {check_names.SOURCE_PARITY}
    assert names("bench_whole_003") == every_table | {check_names.SOURCE_PARITY}
    assert names("bench_landed_004") == every_table | per_day


def test_200_tables_make_a_loadable_code_location_whose_sensors_target_only_what_they_request(large_definitions):
    dg.Definitions.validate_loadable(large_definitions)
    repository = large_definitions.get_repository_def()
    landed = repository.get_job("__anonymous_asset_job_landing_files").asset_layer.selected_asset_keys
    assert landed and all(key.path[-1].startswith(("bench_landed_", "app_events", "access_log")) for key in landed)
    reread = repository.get_job("__anonymous_asset_job_days_that_differ_from_the_source").asset_layer.selected_asset_keys
    assert reread and not any(key.path[-1].startswith(("bench_landed_", "bench_whole_")) for key in reread)
