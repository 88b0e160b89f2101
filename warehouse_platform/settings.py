"""What the environment variables say, read when asked and never at import: which environment
(PLATFORM_ENV), where local state lives, the business time zone, the slice count, the stage URL,
the dbt target. Pure: no Dagster and no resources, so every layer may import it; the resources
themselves are built from these settings at the top, in environment.py.

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
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from warehouse_platform.postgres_endpoint import PostgresEndpoint

# The embedded server's warehouse database (PostgresWarehouse's default), named here so the UI
# can name tables without building the warehouse resource.
EMBEDDED_WAREHOUSE_DATABASE = "warehouse"

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


def day_load_path() -> str:
    """How the local warehouse loads day tables: "swap" (default) or "staging", Redshift's path
    run on Postgres (PLATFORM_DAY_LOAD_PATH; see PostgresWarehouse.day_load_path)."""
    value = os.environ.get("PLATFORM_DAY_LOAD_PATH", "").strip() or "swap"
    if value not in ("swap", "staging"):
        raise ValueError(f"PLATFORM_DAY_LOAD_PATH must be 'swap' or 'staging', not {value!r}")
    return value


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
    return EMBEDDED_WAREHOUSE_DATABASE


def stage_url() -> str:
    url = os.environ.get("PLATFORM_STAGE_URL", "").strip()
    if get_environment() == "prod" and not url.startswith("s3://"):
        raise ValueError("PLATFORM_STAGE_URL must be s3://bucket/prefix in prod: Redshift COPY reads from S3")
    return url or str(state_dir() / "stage")


def stage_kind() -> str:
    return "s3" if stage_url().startswith("s3://") else "file"


def dbt_target() -> str:
    return get_environment()
