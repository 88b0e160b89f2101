"""The contract of a warehouse table and how it is loaded, declared once per table."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from enum import Enum

from warehouse_platform.contract.history import DEFAULT_HISTORY_START
from warehouse_platform.contract.log_formats import (
    DEFAULT_MAX_LINE_BYTES,
    LANDED_SUFFIXES,
    LogFormat,
    column_source_problem,
)
from warehouse_platform.contract.redshift_types import integer_range


class LoadMode(str, Enum):
    APPEND = "append"
    REPLACE = "replace"
    UPSERT = "upsert"


class RowsFrom(str, Enum):
    """Where a table's rows come from. A table has one: the daily schedule and backfills
    extract only extraction-fed tables, the landing sensor loads only landing-fed ones, so
    neither path can replace a day the other one fed."""

    EXTRACTION = "extraction"  # read from the application database by the extract
    LANDING = "landing"  # files other systems drop under landing/<table>/


@dataclass(frozen=True)
class Structuring:
    """A table whose landed files are log lines, structured into the table's columns (the Athena
    role) before they are staged: every line becomes a row or a reject with its file and line."""

    format: LogFormat
    # Under landing/: e.g. logs/app_events (files in <folder>/day=YYYY-MM-DD/).
    landing_folder: str
    # The share of a day's lines that may be rejected before rejected_lines fails (blocking).
    reject_share_limit: float = 0.02
    # A longer line is a reject (keeping its first characters), never read whole into memory.
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES


class DistStyle(str, Enum):
    AUTO = "AUTO"
    EVEN = "EVEN"
    KEY = "KEY"
    ALL = "ALL"


@dataclass(frozen=True)
class Column:
    name: str
    # The type as written in DDL; both dialects share these (int, varchar(n), timestamp, boolean).
    sql_type: str
    nullable: bool = True
    description: str = ""
    # Redshift compression encoding (ENCODE ...); ignored on Postgres.
    encoding: str | None = None
    # A SQL expression; kept on the staging table too, so a load never loses a target's default.
    default: str | None = None
    # Tables structured from landed logs (TableSpec.structuring): where the value comes from in
    # a line. A JSON path ("$.properties.page") for json_lines, or a field of the line's format
    # or of its provenance (contract/log_formats.FIELDS) for any format.
    from_json: str | None = None
    from_field: str | None = None


class OnNewColumn(str, Enum):
    """What a source column the contract does not declare does to the extract."""

    FAIL = "fail"  # the extract fails, naming the column (default: the contract is reviewed first)
    ADD = "add"  # the column is added to the raw table (DDL for both dialects) and loaded


@dataclass(frozen=True)
class SourceSpec:
    """Where an extracted table's rows are read from in the application database."""

    # "app.sessions": the extract SELECTs the declared columns from it.
    table: str | None = None
    # Or a SELECT (projection, join) returning the declared columns, plus `day_column` when
    # the table is daily and that column is not one of them.
    query: str | None = None
    # The column (of the table or the query) whose day a row belongs to, for daily tables.
    day_column: str | None = None
    # Application tables read (lineage in the UI); defaults to `table`.
    reads: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise ValueError("a source has exactly one of `table` or `query`")

    @property
    def tables_read(self) -> tuple[str, ...]:
        return self.reads or ((self.table,) if self.table else ())


@dataclass(frozen=True)
class Incremental:
    """Rows change after the day they were created (a refund, a new country): the extract reads
    rows by when they last changed and the load upserts them by key, wherever they lived."""

    # The column that moves forward whenever a row changes (e.g. updated_at).
    cursor: str
    # Also re-read this many days before the newest one, for rows committed late.
    lookback_days: int = 0
    # A column the application sets instead of deleting the row; carried into raw_data.
    soft_delete_column: str | None = None


class DeleteKind(str, Enum):
    HARD = "hard"  # a key the source no longer holds is removed from raw_data
    KEEP = "keep"  # it stays as it was last read
    SOFT = "soft"  # it stays, marked deleted in a declared column (the time the platform saw it gone)


@dataclass(frozen=True)
class DeletePolicy:
    """What a key the source no longer holds does to raw_data (catalog: `deletes: hard | keep |
    soft(<column>)`). A daily table learns it when a re-read of the key's day no longer finds it;
    a whole table compares its keys with the source's on every incremental load."""

    kind: DeleteKind = DeleteKind.HARD
    column: str | None = None  # soft: the nullable timestamp column set to when the key was seen gone

    @classmethod
    def parse(cls, text: str) -> DeletePolicy:
        text = text.strip()
        if text.startswith("soft(") and text.endswith(")") and text[5:-1].strip():
            return cls(DeleteKind.SOFT, text[5:-1].strip())
        if text in (DeleteKind.HARD.value, DeleteKind.KEEP.value):
            return cls(DeleteKind(text))
        raise ValueError(f"deletes is hard, keep or soft(<column>), not {text!r}")

    def __str__(self) -> str:
        return f"soft({self.column})" if self.kind == DeleteKind.SOFT else self.kind.value


# A wider window reads more neighbouring days of the table on every load of a day; a retry that
# lands a week later is not a retry the window should hide (the duplicate check names it).
MAX_KEY_WINDOW_DAYS = 7


# Columns the loader adds to every raw table: which partition a row was loaded under (so a
# partition re-run can replace exactly its rows) and which load wrote it (joins the ledger).
PARTITION_COLUMN = Column("_partition_date", "date", nullable=False, description="Partition the row was loaded under.")
# bigint, not a uuid string: it is stored in every row, so it is kept to 8 bytes.
LOAD_ID_COLUMN = Column("_load_id", "bigint", nullable=False, description="Load that wrote the row; see the load ledger.")
# The rank the load's dedupe computes beside the contract columns (sql/load.py).
DEDUPE_RANK_COLUMN = "_row_rank"
# Column names the platform's own SQL gives its columns: a declared column may not take one.
RESERVED_COLUMN_NAMES = (PARTITION_COLUMN.name, LOAD_ID_COLUMN.name, DEDUPE_RANK_COLUMN)


@dataclass(frozen=True)
class TableSpec:
    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    description: str = ""
    partitioned: bool = False
    rows_from: RowsFrom = RowsFrom.EXTRACTION
    mode: LoadMode = LoadMode.REPLACE
    # ORDER BY terms that pick the surviving row among duplicates of one key (first wins).
    dedupe_order: tuple[str, ...] = ()
    dist_style: DistStyle = DistStyle.AUTO
    dist_key: str | None = None
    sort_key: tuple[str, ...] = field(default_factory=tuple)
    # Cut VARCHAR values longer than the column (Redshift's TRUNCATECOLUMNS) instead of failing.
    truncate_columns: bool = False
    # Columns other tables join on; with the key, the DISTKEY candidates the skew check weighs.
    join_columns: tuple[str, ...] = ()
    # Where extracted rows come from (None for tables fed by landed files).
    source: SourceSpec | None = None
    incremental: Incremental | None = None
    on_new_column: OnNewColumn = OnNewColumn.FAIL
    # Who answers for the table ("team:data", "someone@example.com"), shown in the UI.
    owners: tuple[str, ...] = ()
    # Landed log lines structured into the columns (None: landed files are CSV with a header).
    structuring: Structuring | None = None
    # What a key the source no longer holds does to raw_data.
    deletes: DeletePolicy = field(default_factory=DeletePolicy)
    # A landed daily table whose key may repeat in the files of neighbouring days (an event
    # retried across midnight): a key held in days up to this many apart is one row, the copy
    # landed in the latest day (sql/key_window.py). 0: each day is deduplicated on its own.
    key_window_days: int = 0
    # The table's first day (contract/history.py): no day before it is extracted, landed or loaded.
    history_start: date = DEFAULT_HISTORY_START
    # A landed daily table: the date or timestamp column every row's day must be the landing
    # folder's day by (a file of another day is refused; contract/history.day_not_of_folder).
    landed_day_column: str | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        unknown = [k for k in (*self.primary_key, *self.sort_key, *self.join_columns) if k not in names]
        if self.dist_key is not None and self.dist_key not in names:
            unknown.append(self.dist_key)
        if unknown:
            raise ValueError(f"{self.qualified_name}: unknown columns {unknown} in key/dist/sort declaration")
        if (self.dist_style == DistStyle.KEY) != (self.dist_key is not None):
            raise ValueError(f"{self.qualified_name}: DISTKEY is set exactly when DISTSTYLE is KEY")
        if self.incremental is not None:
            named = [self.incremental.cursor, self.incremental.soft_delete_column]
            if missing := [c for c in named if c is not None and c not in names]:
                raise ValueError(f"{self.qualified_name}: incremental columns {missing} are not declared columns")
            if self.mode != LoadMode.UPSERT:
                raise ValueError(f"{self.qualified_name}: an incremental table is loaded with mode upsert")
            if self.partitioned and (self.source is None or self.source.day_column != self.incremental.cursor):
                # A row lives in the day of its latest change, so a changed row moves to its new day.
                raise ValueError(f"{self.qualified_name}: a daily incremental table's day column is its cursor")

        if self.deletes.kind == DeleteKind.SOFT:
            column = next((c for c in self.columns if c.name == self.deletes.column), None)
            if column is None or not column.nullable or not column.sql_type.lower().startswith("timestamp"):
                raise ValueError(
                    f"{self.qualified_name}: deletes: soft({self.deletes.column}) names a nullable timestamp column it declares"
                )
        if self.landed_day_column is not None:
            column = next((c for c in self.columns if c.name == self.landed_day_column), None)
            if self.rows_from != RowsFrom.LANDING or not self.partitioned:
                raise ValueError(f"{self.qualified_name}: a landed day column is for a landed daily table")
            if column is None or not column.sql_type.lower().startswith(("date", "timestamp")):
                raise ValueError(
                    f"{self.qualified_name}: daily_by: {self.landed_day_column} names a date or timestamp column it declares"
                )
        if self.structuring is not None:
            self._check_structuring(names)
        if self.key_window_days:
            self._check_key_window()

    def _check_key_window(self) -> None:
        if not 0 < self.key_window_days <= MAX_KEY_WINDOW_DAYS:
            raise ValueError(f"{self.qualified_name}: key_window_days is a number of days, 0 to {MAX_KEY_WINDOW_DAYS}")
        # The later day's copy wins: that needs days (a daily table), files that landed (their
        # day is where the shipper filed them), and a day that replaces its own rows.
        if not self.partitioned or self.rows_from != RowsFrom.LANDING or self.mode != LoadMode.REPLACE:
            raise ValueError(
                f"{self.qualified_name}: key_window_days is for a landed daily table loaded with mode replace "
                "(partitioning: daily, rows_from: landing)"
            )

    def _check_structuring(self, names: list[str]) -> None:
        if self.rows_from != RowsFrom.LANDING:
            raise ValueError(f"{self.qualified_name}: only a table fed by landed files declares `structuring`")
        if not 0 <= self.structuring.reject_share_limit <= 1:
            raise ValueError(f"{self.qualified_name}: structuring.reject_share_limit is a share, 0 to 1")
        for column in self.columns:
            if problem := column_source_problem(self.structuring.format, column.from_json, column.from_field, column.sql_type):
                raise ValueError(f"{self.qualified_name}.{column.name}: {problem}")

    @property
    def landing_folder(self) -> str:
        """Where other systems drop this table's files, under landing/."""
        return self.structuring.landing_folder.strip("/") if self.structuring else self.name

    @property
    def landed_suffixes(self) -> tuple[str, ...]:
        return LANDED_SUFFIXES[self.structuring.format if self.structuring else None]

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def moves_between_days(self) -> bool:
        """A daily upsert table whose day column is one of its columns: a row lives in the day of
        that column, so a change can move its key from one day to another (a refund moves a
        purchase to the refund's day; a clock-skewed update moves it back)."""
        return (
            self.partitioned and self.mode == LoadMode.UPSERT and self.source is not None
            and self.source.day_column in {c.name for c in self.columns}
        )

    @property
    def column_names(self) -> tuple[str, ...]:
        """The contract columns: what staged files carry, in file order."""
        return tuple(c.name for c in self.columns)

    @property
    def text_column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.sql_type.lower().startswith(("varchar", "char", "character")))

    @property
    def integer_columns(self) -> tuple[tuple[str, str], ...]:
        """(name, declared type) of the smallint/int/bigint columns: the stage checks their ranges."""
        return tuple((c.name, c.sql_type) for c in self.columns if integer_range(c.sql_type) is not None)

    @property
    def loader_columns(self) -> tuple[Column, ...]:
        return (PARTITION_COLUMN, LOAD_ID_COLUMN) if self.partitioned else (LOAD_ID_COLUMN,)

    @property
    def table_columns(self) -> tuple[Column, ...]:
        """Every column of the warehouse table: the contract plus the loader's bookkeeping."""
        return self.columns + self.loader_columns

    @property
    def distribution_candidates(self) -> tuple[str, ...]:
        ordered = [self.dist_key, *self.primary_key, *self.join_columns]
        return tuple(dict.fromkeys(c for c in ordered if c))

    def file_columns_problem(self, columns: tuple[str, ...]) -> str | None:
        """Why a staged file with these columns cannot be loaded, or None. A file carries the
        contract's columns in order; it may leave out a column that has a default (a file
        written before the column was added), and the load fills that column with its default."""
        absent = [c for c in self.columns if c.name not in columns]
        if tuple(c for c in self.column_names if c in columns) == tuple(columns) and all(c.default is not None for c in absent):
            return None
        return f"schema drift: staged columns {list(columns)} != table contract {list(self.column_names)}"

    def with_added_columns(self, added: tuple[Column, ...]) -> TableSpec:
        """The spec once columns the source gained were added to the table (on_new_column: add):
        they follow the declared ones, in files and in the table. Whether a new column may be
        added is source_contract.resolve's rule; a column added earlier stays in the contract
        even after the table is set back to on_new_column: fail (that setting is about columns
        the source gains next)."""
        if not added:
            return self
        return replace(self, columns=self.columns + tuple(c for c in added if c.name not in self.column_names))

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.qualified_name} has no column {name!r}")
