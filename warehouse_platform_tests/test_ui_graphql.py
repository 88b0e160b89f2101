"""What the UI shows, asked the way the UI asks: GraphQL queries against the code location
loaded in process, on an instance where a small demo-like run has happened (one day loaded,
analytics built)."""

import os
from datetime import date

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster_graphql.test.utils import execute_dagster_graphql

from warehouse_platform.environment import PROJECT_ROOT
from warehouse_platform.instance.runs import CODE_LOCATION, run_code_location_job
from warehouse_platform.lib.session_generator import GeneratorConfig
from warehouse_platform_tests.platform_runs import platform_definitions, seed

DAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def ui(module_platform_env):
    """A GraphQL request context over the code location, as `dg dev` serves it (the defs
    folder, loaded in this process), on an instance that has run a day and the analytics."""
    seed(module_platform_env["source"], DAY, 1, GeneratorConfig(scale=0.05))
    defs = platform_definitions()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="warehouse_platform.definitions", attribute="defs", working_directory=str(PROJECT_ROOT)),
        location_name=CODE_LOCATION,
    )
    with dg.instance_for_test() as instance:
        for job, partition in (("extract_and_load_day", DAY.isoformat()), ("build_analytics", None)):
            assert run_code_location_job(defs, job, instance, partition_key=partition, run_config=quiet).success
        with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as process_context:
            yield lambda query, variables=None: execute_dagster_graphql(
                process_context.create_request_context(), query, variables
            ).data


MODEL_COLUMNS = """
query ($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      description
      metadataEntries { label ... on TableSchemaMetadataEntry { schema { columns { name type description } } } }
      assetMaterializations(limit: 1) {
        metadataEntries {
          label
          ... on TableSchemaMetadataEntry { schema { columns { name type } } }
          ... on TableColumnLineageMetadataEntry { lineage { columnName columnDeps { assetKey { path } columnName } } }
        }
      }
    }
  }
}
"""


def test_scratch(ui):
    data = ui(MODEL_COLUMNS, {"key": {"path": ["analytics", "channel_summary"]}})
    import json
    print(json.dumps(data, indent=1))
    assert False
