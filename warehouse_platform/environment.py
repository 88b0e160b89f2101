"""The one place that builds the platform's resources for the environment the settings name
(settings.py: PLATFORM_ENV and the rest). Asset code never looks at this: it receives resources
under the same keys in every environment. Secrets are bound as dg.EnvVar, so Dagster resolves
them at run time and never shows them. This module sits at the top of the package: it imports
the stage, warehouse, extract and transform resources, and nothing below imports it.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from warehouse_platform.extract.source_database import SourceDatabase
from warehouse_platform.settings import day_load_path, embedded_postgres_dir, get_environment, slice_count, stage_url
from warehouse_platform.stage.io_manager import StageIOManager
from warehouse_platform.stage.storage import LocalFolderStage, Stage
from warehouse_platform.transform.resources import build_dbt_resource
from warehouse_platform.warehouse.io_manager import WarehouseIOManager
from warehouse_platform.warehouse.resources import (
    PostgresWarehouse,
    RedshiftWarehouse,
    Warehouse,
)


def _env_or_none(name: str) -> dg.EnvVar | None:
    return dg.EnvVar(name) if os.environ.get(name) else None


def _s3_resource():
    # Here, not at the top: dagster_aws and boto3 are for an S3 stage only (stage/s3_storage.py).
    from dagster_aws.s3 import S3Resource

    return S3Resource(
        endpoint_url=os.environ.get("PLATFORM_S3_ENDPOINT_URL") or None,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
    )


def build_stage() -> Stage:
    url = stage_url()
    if url.startswith("s3://"):
        from warehouse_platform.stage.s3_storage import S3Stage  # only an S3 stage pays for boto3

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return S3Stage(s3=_s3_resource(), bucket=bucket, prefix=prefix)
    return LocalFolderStage(root=url)


def build_warehouse() -> Warehouse:
    if get_environment() == "prod":
        return RedshiftWarehouse(
            slice_count=slice_count(),
            host=dg.EnvVar("REDSHIFT_HOST"),
            port=int(os.environ.get("REDSHIFT_PORT", "5439")),
            database=dg.EnvVar("REDSHIFT_DATABASE"),
            user=dg.EnvVar("REDSHIFT_USER"),
            password=dg.EnvVar("REDSHIFT_PASSWORD"),
            iam_role_arn=dg.EnvVar("REDSHIFT_IAM_ROLE_ARN"),
            region=os.environ.get("AWS_REGION") or None,
        )
    dsn = _env_or_none("PLATFORM_WAREHOUSE_DSN")
    return PostgresWarehouse(
        dsn=dsn, embedded_data_dir=None if dsn else str(embedded_postgres_dir()), slice_count=slice_count(),
        day_load_path=day_load_path(),
    )


def build_source_database() -> SourceDatabase:
    dsn = _env_or_none("PLATFORM_SOURCE_DSN")
    if get_environment() == "prod" and dsn is None:
        raise ValueError("PLATFORM_SOURCE_DSN is required in prod")
    return SourceDatabase(dsn=dsn, embedded_data_dir=None if dsn else str(embedded_postgres_dir()))


def build_resources(dbt_project_dir: Path | None = None) -> dict[str, object]:
    """The same keys in every environment; only the implementations differ. `dbt_project_dir`:
    another dbt project than dbt_project/ (a test's copy)."""
    stage = build_stage()
    warehouse = build_warehouse()
    return {
        "source_db": build_source_database(),
        "stage": stage,
        "warehouse": warehouse,
        "stage_io_manager": StageIOManager(stage=stage, slice_count=slice_count()),
        "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse, stage=stage),
        "dbt": build_dbt_resource(warehouse, dbt_project_dir),
    }
