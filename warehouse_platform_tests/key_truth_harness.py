"""A small application table whose rows move between days, and the platform's own extract,
stage and load of any of its days, driven directly (no Dagster run per step) against the real
embedded Postgres (source and warehouse) and the folder stage: what the key-as-truth tests and
the stateful property test step through."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from warehouse_platform import environment
from warehouse_platform.contract.table_spec import Column, Incremental, LoadMode, SourceSpec, TableSpec
from warehouse_platform.extract.assets import extract_records
from warehouse_platform.stage.batch_writer import write_staged_batch
from warehouse_platform.staged_files.manifest import StagedBatch, batch_folder, batch_id_for, day_folder, table_folder
from warehouse_platform.warehouse.load_request import LoadOutcome, LoadRequest
from warehouse_platform.warehouse.loader import LoadReport, load_staged_batch
from warehouse_platform.warehouse.staging_load import load_through_staging

# A purchase lives in the day of its latest change (updated_at): a refund moves it forward, a
# clock-skewed server moves it back.
PURCHASES = TableSpec(
    schema="raw_data", name="purchases", description="Purchases that move between days.",
    columns=(
        Column("id", "varchar(8)", nullable=False),
        Column("amount", "int"),
        Column("refunded", "boolean"),
        Column("note", "varchar(16)"),
        Column("updated_at", "timestamp", nullable=False),
    ),
    primary_key=("id",), partitioned=True, mode=LoadMode.UPSERT, dedupe_order=("updated_at desc",),
    source=SourceSpec(table="app.purchases", day_column="updated_at"),
    incremental=Incremental(cursor="updated_at", lookback_days=2),
)
SOURCE_DDL = (
    "CREATE SCHEMA IF NOT EXISTS app",
    "DROP TABLE IF EXISTS app.purchases",
    "CREATE TABLE app.purchases (id varchar(8) PRIMARY KEY, amount int, refunded boolean, note varchar(16), "
    "updated_at timestamp NOT NULL)",
)
COLUMNS = "id, amount, refunded, note, updated_at"


def execute(endpoint, *statements: str, params=None) -> None:
    """Statements in one transaction on a database of the embedded server (the application's)."""
    conn = endpoint.connect()
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement, params)
        conn.commit()
    finally:
        conn.close()


@dataclass(frozen=True)
class Staged:
    day: date
    batch: StagedBatch
    order: int  # when it was staged, on the harness's clock (source changes share it)

    def __repr__(self) -> str:  # what a failing property test prints for each draw
        return f"Staged({self.day.isoformat()}, #{self.order})"


class KeyTruthHarness:
    """One source table and one raw table; every stage gets a batch id later than the last
    (as runs requested one after another), and loads may run in any order. `path`: how a day
    is loaded, the partition swap (Postgres's own) or the staging table (the statements
    Redshift runs, on the same Postgres)."""

    def __init__(self, platform_env: dict, spec: TableSpec = PURCHASES, path: str = "partition_swap"):
        assert path in ("partition_swap", "staging_table"), path
        self.spec, self.source, self.path = spec, platform_env["source"], path
        self.warehouse = environment.build_warehouse().process_config_and_initialize()
        self.source_db = environment.build_source_database().process_config_and_initialize()
        self.stage = environment.build_stage()
        self._clock = itertools.count(1)
        self._requested = datetime(2026, 12, 1, tzinfo=timezone.utc)
        self.execute(*SOURCE_DDL)
        self.warehouse.ensure_schemas()
        with self.warehouse.connection() as conn, conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS raw_data.purchases CASCADE")
            cur.execute("DELETE FROM raw_data._load_ledger WHERE table_name = 'raw_data.purchases'")
            conn.commit()

    def tick(self) -> int:
        return next(self._clock)

    def execute(self, *statements: str, params=None) -> None:
        execute(self.source, *statements, params=params)

    def put(self, key: str, amount: int, refunded: bool, note: str | None, updated_at: datetime) -> None:
        self.execute(
            f"INSERT INTO app.purchases ({COLUMNS}) VALUES (%(id)s, %(amount)s, %(refunded)s, %(note)s, %(ts)s) "
            "ON CONFLICT (id) DO UPDATE SET amount = EXCLUDED.amount, refunded = EXCLUDED.refunded, "
            "note = EXCLUDED.note, updated_at = EXCLUDED.updated_at",
            params={"id": key, "amount": amount, "refunded": refunded, "note": note, "ts": updated_at},
        )

    def delete(self, key: str) -> None:
        self.execute("DELETE FROM app.purchases WHERE id = %(id)s", params={"id": key})

    def stage_day(self, day: date, *, requested_earlier_by: int = 0) -> Staged:
        """Extract and stage the day now. `requested_earlier_by`: the run was requested that
        many seconds before the latest request (it waited in the queue, so it runs, and reads
        the source, after runs requested later)."""
        order = self.tick()
        self._requested += timedelta(seconds=1)
        batch_id = batch_id_for(self._requested - timedelta(seconds=requested_earlier_by, microseconds=order), f"run{order:05d}")
        start = datetime.combine(day, datetime.min.time())
        records = extract_records(
            self.spec, self.source_db, self.warehouse, partition_key=day.isoformat(),
            day_window=(start, start + timedelta(days=1)),
        )
        prefix = batch_folder(day_folder(table_folder(self.spec), day.isoformat()), batch_id)
        batch = write_staged_batch(
            self.stage, prefix, self.spec.qualified_name, day.isoformat(), records, slice_count=2, batch_id=batch_id
        )
        return Staged(day, batch, order)

    def load(self, staged: Staged, *, allow_shrink: bool = False) -> LoadReport | LoadOutcome:
        if self.path == "staging_table":
            # On Redshift every load takes this path; on Postgres a daily upsert goes through
            # the partition swap unless asked for the staging table, as here. The days a moved
            # row goes to must already have their partitions (Postgres only; Redshift has none).
            self.warehouse.ensure_table(self.spec)
            request = LoadRequest(self.spec, staged.batch, f"run-{staged.order}", allow_shrink)
            report = load_through_staging(self.warehouse, self.stage, request)
        else:
            report = load_staged_batch(
                self.warehouse, self.stage, self.spec, staged.batch, f"run-{staged.order}", allow_shrink=allow_shrink
            )
        # The day's row count the load reports (derived from its statements) is what the day holds.
        [(held,)] = self.warehouse.query(
            "SELECT count(*) FROM raw_data.purchases WHERE _partition_date = %(d)s", {"d": staged.day}
        )
        assert report.partition_rows == held, (report.partition_rows, held)
        return report

    def source_rows(self) -> dict[str, tuple]:
        conn = self.source.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT {COLUMNS} FROM app.purchases")
                return {r[0]: r for r in cur.fetchall()}
        finally:
            conn.close()

    def raw_rows(self) -> dict[str, list[tuple]]:
        """Every row raw_data holds, by key (a list: a key held twice is a failure to see)."""
        if not self.warehouse.table_exists(self.spec):
            return {}
        found: dict[str, list[tuple]] = {}
        for row in self.warehouse.query(f"SELECT {COLUMNS}, _partition_date FROM raw_data.purchases"):
            found.setdefault(row[0], []).append(row)
        return found

    def differences(self) -> list[str]:
        """Where raw_data is not the source's current rows key by key (every column), or a row
        is not in the day of its latest change; empty when they agree."""
        source, raw = self.source_rows(), self.raw_rows()
        problems = []
        for key in sorted(set(source) | set(raw)):
            held = raw.get(key, [])
            if key not in source:
                problems.append(f"{key}: deleted in the source, raw_data holds {held}")
            elif len(held) != 1:
                problems.append(f"{key}: the source holds {source[key]}, raw_data holds {len(held)} rows: {held}")
            elif held[0][:-1] != source[key]:
                problems.append(f"{key}: the source holds {source[key]}, raw_data holds {held[0][:-1]}")
            elif held[0][-1] != source[key][-1].date():
                problems.append(f"{key}: lives in {source[key][-1].date()}, raw_data holds it in day {held[0][-1]}")
        return problems
