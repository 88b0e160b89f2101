"""The one place that decides where the platform runs. Asset code never looks at this.

PLATFORM_ENV picks the environment:
  local (default)  warehouse = Postgres (embedded under PLATFORM_STATE_DIR, or PLATFORM_WAREHOUSE_DSN)
                   source    = the embedded `app` database, or PLATFORM_SOURCE_DSN
                   stage     = a folder under the state dir, or PLATFORM_STAGE_URL (a folder or s3://bucket/prefix)
                   dbt       = target `local` (dbt-postgres)
  prod             warehouse = Redshift (REDSHIFT_HOST, REDSHIFT_PORT, REDSHIFT_DATABASE, REDSHIFT_USER,
                               REDSHIFT_PASSWORD, REDSHIFT_IAM_ROLE_ARN; AWS_REGION optional)
                   source    = PLATFORM_SOURCE_DSN
                   stage     = PLATFORM_STAGE_URL, which must be s3://bucket/prefix
                   dbt       = target `prod` (dbt-redshift)
S3 (either environment): PLATFORM_S3_ENDPOINT_URL for MinIO or any S3-compatible store; keys
come from the standard AWS variables or the default credential chain, never from code.
Both: PLATFORM_SLICE_COUNT (parts per batch, slices for skew), PLATFORM_TIMEZONE (business day).
Secrets are bound as dg.EnvVar, so Dagster resolves them at run time and never shows them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import dagster as dg
from dagster_aws.s3 import S3Resource

from warehouse_platform.extract.source_database import SourceDatabase
from warehouse_platform.postgres_endpoint import PostgresEndpoint
from warehouse_platform.stage.io_manager import StageIOManager
from warehouse_platform.stage.storage import LocalFolderStage, S3Stage, Stage
from warehouse_platform.warehouse.io_manager import WarehouseIOManager
from warehouse_platform.warehouse.resources import (
    PostgresWarehouse,
    RedshiftWarehouse,
    Warehouse,
)

Environment = Literal["local", "prod"]
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def get_environment() -> Environment:
    value = os.environ.get("PLATFORM_ENV", "local").strip().lower()
    if value not in ("local", "prod"):
        raise ValueError(f"PLATFORM_ENV must be 'local' or 'prod', not {value!r}")
    return value  # type: ignore[return-value]


def state_dir() -> Path:
    """Git-ignored folder for everything the local environment creates (database, stage, Dagster home)."""
    return Path(os.environ.get("PLATFORM_STATE_DIR", PROJECT_ROOT / ".platform")).resolve()


def dagster_home() -> Path:
    """The Dagster instance's folder (runs, event logs, compute logs), the same for every entry
    point: make dev, make demo and the warehouse-platform CLI all use this one; DAGSTER_HOME
    from the shell is not consulted."""
    return state_dir() / "dagster_home"


def embedded_postgres_dir() -> Path:
    return state_dir() / "pgdata"


def timezone() -> str:
    """The business day: partitions, the daily schedule and day windows of the extract."""
    return os.environ.get("PLATFORM_TIMEZONE", "UTC")


def slice_count() -> int:
    # A 2-node ra3.xlplus cluster has 4 slices; parts come in multiples of this.
    return int(os.environ.get("PLATFORM_SLICE_COUNT", "4"))


def warehouse_kind() -> str:
    return "redshift" if get_environment() == "prod" else "postgres"


def warehouse_database() -> str:
    """The warehouse's database name, as the UI names tables (`<database>.<schema>.<table>`),
    known without connecting: REDSHIFT_DATABASE in prod (Redshift's default database `dev`
    when unset: the definitions still load, and a run fails on the missing variable anyway);
    locally the DSN's database, or the embedded server's warehouse database."""
    if get_environment() == "prod":
        return os.environ.get("REDSHIFT_DATABASE", "").strip() or "dev"
    if dsn := os.environ.get("PLATFORM_WAREHOUSE_DSN"):
        try:
            return PostgresEndpoint.from_dsn(dsn).dbname
        except Exception:
            # A mistyped DSN must still let the definitions load: the run that uses it fails
            # and its event log says what is wrong (scrubbed), which a load error would not; the
            # table names meanwhile use the embedded default.
            pass
    return PostgresWarehouse.model_fields["database"].default


def stage_url() -> str:
    url = os.environ.get("PLATFORM_STAGE_URL", "").strip()
    if get_environment() == "prod" and not url.startswith("s3://"):
        raise ValueError("PLATFORM_STAGE_URL must be s3://bucket/prefix in prod: Redshift COPY reads from S3")
    return url or str(state_dir() / "stage")


def stage_kind() -> str:
    return "s3" if stage_url().startswith("s3://") else "file"


def dbt_target() -> str:
    return get_environment()


def _env_or_none(name: str) -> dg.EnvVar | None:
    return dg.EnvVar(name) if os.environ.get(name) else None


def _s3_resource() -> S3Resource:
    return S3Resource(
        endpoint_url=os.environ.get("PLATFORM_S3_ENDPOINT_URL") or None,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
    )


def build_stage() -> Stage:
    url = stage_url()
    if url.startswith("s3://"):
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
        dsn=dsn, embedded_data_dir=None if dsn else str(embedded_postgres_dir()), slice_count=slice_count()
    )


def build_source_database() -> SourceDatabase:
    dsn = _env_or_none("PLATFORM_SOURCE_DSN")
    if get_environment() == "prod" and dsn is None:
        raise ValueError("PLATFORM_SOURCE_DSN is required in prod")
    return SourceDatabase(dsn=dsn, embedded_data_dir=None if dsn else str(embedded_postgres_dir()))


def build_resources(dbt_project_dir: Path | None = None) -> dict[str, object]:
    """The same keys in every environment; only the implementations differ. `dbt_project_dir`:
    another dbt project than dbt_project/ (a test's copy)."""
    from warehouse_platform.transform.resources import build_dbt_resource

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
