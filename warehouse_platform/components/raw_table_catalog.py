"""RawTableCatalog: every raw table declared once, as an entry of a YAML catalog.

    warehouse_platform/defs/raw_data/defs.yaml
      type: warehouse_platform.components.raw_table_catalog.RawTableCatalog
      attributes:
        tables:
          - name: channel
            ...

The entry model below is the YAML schema: `dg check yaml` validates an entry against it (an unknown
mode, a misspelt field) and points at its line; the rules a schema cannot state (a key naming no
column, DISTKEY without DISTSTYLE KEY) are TableSpec's own, run while the entry is validated, so
they too are reported as errors of the entry, with its line, when the definitions load.
Each entry becomes a TableSpec, and everything per table (source, stage and raw assets, checks,
jobs, schedule, landing sensor) is built from those specs by build_table_definitions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails

from warehouse_platform.automation import definitions as automation
from warehouse_platform.contract import catalog_rules
from warehouse_platform.contract.column_types import parse_type
from warehouse_platform.contract.history import DEFAULT_HISTORY_START
from warehouse_platform.contract.identifiers import identifier_problem
from warehouse_platform.contract.log_formats import DEFAULT_MAX_LINE_BYTES, MAX_LINE_BYTES_BOUNDS, LogFormat
from warehouse_platform.contract.table_spec import (
    MAX_KEY_WINDOW_DAYS,
    Column,
    DeletePolicy,
    DistStyle,
    Incremental,
    LoadMode,
    OnNewColumn,
    RowsFrom,
    SourceSpec,
    Structuring,
    TableSpec,
)
from warehouse_platform.conventions.asset_keys import raw_asset_key, source_asset_key, stage_asset_key
from warehouse_platform.conventions.code_references import with_catalog_entry_references
from warehouse_platform.extract import assets as extract_assets
from warehouse_platform.quality import checks as quality_checks
from warehouse_platform.sql.derived_names import derived_name_collisions
from warehouse_platform.warehouse import assets as warehouse_assets


class ColumnEntry(dg.Model):
    name: str
    type: str = Field(description="The DDL type both dialects share: int, bigint, varchar(n), timestamp, boolean, date ...")
    nullable: bool = True
    description: str = ""
    encoding: str | None = Field(default=None, description="Redshift compression encoding (ENCODE); ignored on Postgres.")
    # A number or boolean as YAML reads it is taken as written (0, 2.5, false): the literal is checked against the type.
    default: str | bool | int | float | None = Field(
        default=None,
        description="Fills the column when a file lacks it: a literal of the column's type (0, 'n/a', 2015-01-01), "
        "or current_timestamp / getdate() / current_date for timestamp and date columns. Never SQL.",
    )
    from_json: str | None = Field(
        default=None, description="Structured log tables, json_lines: the JSON path of the value, e.g. $.properties.page."
    )
    from_field: str | None = Field(
        default=None,
        description="Structured log tables: a field of the line's format (combined_log: client_ip, time, status, ...) "
        "or of its provenance (landed_file, landed_line, line_id).",
    )

    @field_validator("default", mode="before")
    @classmethod
    def _a_day_or_time_as_written(cls, value: object) -> object:
        # YAML reads an unquoted 2015-01-01 (or 2015-01-01 10:00:00) as a date (datetime): the
        # default is the text the user wrote, in ISO form, checked against the column's type later.
        if isinstance(value, datetime):
            return value.isoformat(sep=" ")
        return value.isoformat() if isinstance(value, date) else value

    @model_validator(mode="before")
    @classmethod
    def _a_type_cut_at_its_comma(cls, data):
        # `{name: price, type: numeric(5,2)}`: YAML ends the value at the comma, leaving the type
        # `numeric(5` and a key `2)`. Said as the quoting it needs, not as an unknown field `2)`.
        if isinstance(data, dict) and isinstance(data.get("type"), str) and any(re.fullmatch(r"\s*\d+\s*\)", str(k)) for k in data):
            parse_type(data["type"])
        return data


class SourceEntry(dg.Model):
    """Where an extracted table's rows are read from in the application database."""

    table: str | None = Field(default=None, description="app.<table>: the declared columns are SELECTed from it.")
    query: str | None = Field(default=None, description="Or a SELECT (projection, join) returning the declared columns.")
    reads: list[str] = Field(default_factory=list, description="Application tables a query reads (lineage); defaults to `table`.")


class DailyBy(dg.Model):
    daily_by: str = Field(description="The source column whose day a row belongs to (a column of the table or the query).")


class DistributionEntry(dg.Model):
    style: DistStyle = DistStyle.AUTO
    key: str | None = Field(default=None, description="DISTKEY: set exactly when style is KEY.")
    sort_key: list[str] = Field(default_factory=list)
    join_columns: list[str] = Field(default_factory=list, description="Columns other tables join on; DISTKEY candidates for the skew check.")


class IncrementalEntry(dg.Model):
    cursor: str = Field(description="The column that moves forward whenever a row changes, e.g. updated_at.")
    lookback_days: int = 0
    soft_delete_column: str | None = None


class StructuringEntry(dg.Model):
    """Landed files are log lines, structured into the declared columns before they are staged."""

    format: LogFormat = Field(description="json_lines (one JSON object a line) or combined_log (web access logs).")
    landing_folder: str = Field(description="Under landing/, e.g. logs/app_events (files in <folder>/day=YYYY-MM-DD/).")
    # The bounds in the YAML schema, so `dg check yaml` points at the line of a share out of
    # range (as ge/le they would make an Annotated type, which Dagster's resolver refuses);
    # TableSpec checks them again when the entry loads.
    reject_share_limit: float = Field(
        default=0.02, json_schema_extra={"minimum": 0, "maximum": 1},
        description="Share of a day's lines (0 to 1) that may be rejected before rejected_lines fails (blocking).",
    )
    max_line_bytes: int = Field(
        default=DEFAULT_MAX_LINE_BYTES,
        json_schema_extra={"minimum": MAX_LINE_BYTES_BOUNDS[0], "maximum": MAX_LINE_BYTES_BOUNDS[1]},
        description="A landed line longer than this many bytes is a reject (keeping its first 1,000 characters).",
    )


def _default_text(value: str | bool | int | float) -> str:
    """A default as YAML read it, as text: booleans as true/false, numbers as written."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _optional_sections_are_checked_inside(schema: dict) -> None:
    """An optional section (structuring, incremental, source) is `<its schema> | null` to
    pydantic; against that union a schema validator reports only "not valid under any of the
    given schemas" at the section. Declared as the section alone (null is never written in the
    catalog; omitting the key is how it is left out), `dg check yaml` names the bad field and
    its value, at its line."""
    for prop in schema.get("properties", {}).values():
        options = prop.get("anyOf", [])
        refs = [o for o in options if o.get("type") != "null"]
        if len(options) == 2 and len(refs) == 1 and "$ref" in refs[0]:
            del prop["anyOf"]
            prop.update(refs[0])


# A day as YAML writes it, quoted or not: Dagster's YAML loader (and catalog.py, which uses it)
# keeps an unquoted 2015-01-01 as text, so `history_start: 2015-01-01` needs no quotes.
_DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _day(field: str, text: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a day (YYYY-MM-DD)") from None


class TableEntry(dg.Model):
    """One raw table: its contract with the application's data and how it is loaded."""

    model_config = {**dg.Model.model_config, "json_schema_extra": _optional_sections_are_checked_inside}

    name: str
    description: str
    owners: list[str] = Field(default_factory=list)
    rows_from: RowsFrom = RowsFrom.EXTRACTION
    source: SourceEntry | None = Field(default=None, description="Required for rows_from: extraction; none for landing.")
    partitioning: DailyBy | Literal["whole_table", "daily"] = Field(
        description="{daily_by: <column>} for an extracted daily table; for a landed daily table `daily` (the day is "
        "the landing folder's) or {daily_by: <column>} (the folder's day, and every row's <column> must be of it); "
        "or `whole_table`."
    )
    columns: list[ColumnEntry]
    primary_key: list[str] = Field(description="Column names, one or more (a composite key); any column types.")
    mode: LoadMode = LoadMode.REPLACE
    dedupe_order: list[str] = Field(default_factory=list, description="ORDER BY terms; the first row of a key wins.")
    distribution: DistributionEntry = Field(default_factory=DistributionEntry)
    truncate_columns: bool = False
    incremental: IncrementalEntry | None = None
    on_new_column: OnNewColumn = OnNewColumn.FAIL
    structuring: StructuringEntry | None = Field(
        default=None, description="For a landed table whose files are logs: their format and landing folder."
    )
    deletes: str = Field(
        default="hard", json_schema_extra={"pattern": r"^(hard|keep|soft\([A-Za-z_][A-Za-z0-9_]*\))$"},
        description="What a key the source no longer holds does to raw_data: hard (removed), keep, or "
        "soft(<column>) (kept, that nullable timestamp column set to when the platform saw it gone).",
    )
    key_window_days: int = Field(
        default=0, json_schema_extra={"minimum": 0, "maximum": MAX_KEY_WINDOW_DAYS},
        description="Landed daily tables: a key repeated in the files of days up to this many apart (an event retried "
        "across midnight) is loaded once, the copy landed in the latest day winning. 0 (default): each day on its own.",
    )
    history_start: str | None = Field(
        default=None, json_schema_extra={"pattern": _DAY}, description="Daily tables: the table's first day (YYYY-MM-DD); no earlier day is extracted, landed "
        "or loaded. Defaults to the catalog's `history_start`.",
    )

    @model_validator(mode="after")
    def _is_a_valid_table(self) -> TableEntry:
        self.to_spec(schema="raw_data")
        return self

    def to_spec(self, schema: str, history_start: date = DEFAULT_HISTORY_START) -> TableSpec:
        """The entry's contract; `history_start` is the catalog's, for an entry that declares none."""
        # Rules Dagster's resolvable models cannot carry as field constraints (it refuses
        # Annotated types), checked here with the rest.
        if not self.columns or not self.primary_key:
            raise ValueError(f"{self.name}: a table declares at least one column and a primary key")
        if self.history_start is not None and self.partitioning == "whole_table":
            raise ValueError(f"{self.name}: history_start is a daily table's first day; a whole table has no days")
        if self.incremental is not None and self.incremental.lookback_days < 0:
            raise ValueError(f"{self.name}: incremental.lookback_days is a number of days, 0 or more")
        extracted = self.rows_from == RowsFrom.EXTRACTION
        if extracted and self.source is None:
            raise ValueError(f"{self.name}: a table fed by extraction declares its `source`")
        if not extracted and self.source is not None:
            raise ValueError(f"{self.name}: a table fed by landed files has no `source`")
        day_column = self.partitioning.daily_by if isinstance(self.partitioning, DailyBy) else None
        if extracted and self.partitioning == "daily":
            raise ValueError(f"{self.name}: an extracted daily table names its day column: partitioning: {{daily_by: <column>}}")
        # A landed table takes its day from the landing folder; its daily_by names the column each
        # row's day must match that day by (a file of another day is refused).
        landed_day_column = None if extracted else day_column
        source = None
        if self.source is not None:
            source = SourceSpec(table=self.source.table, query=self.source.query, day_column=day_column, reads=tuple(self.source.reads))
        incremental = None
        if self.incremental is not None:
            incremental = Incremental(self.incremental.cursor, self.incremental.lookback_days, self.incremental.soft_delete_column)
        spec = TableSpec(
            schema=schema,
            name=self.name,
            description=self.description,
            columns=tuple(
                Column(
                    c.name, c.type, nullable=c.nullable, description=c.description, encoding=c.encoding,
                    default=None if c.default is None else _default_text(c.default),
                    from_json=c.from_json, from_field=c.from_field,
                )
                for c in self.columns
            ),
            primary_key=tuple(self.primary_key),
            partitioned=self.partitioning != "whole_table",
            rows_from=self.rows_from,
            mode=self.mode,
            dedupe_order=tuple(self.dedupe_order),
            dist_style=self.distribution.style,
            dist_key=self.distribution.key,
            sort_key=tuple(self.distribution.sort_key),
            truncate_columns=self.truncate_columns,
            join_columns=tuple(self.distribution.join_columns),
            source=source,
            incremental=incremental,
            on_new_column=self.on_new_column,
            owners=tuple(self.owners),
            structuring=None
            if self.structuring is None
            else Structuring(
                self.structuring.format, self.structuring.landing_folder, self.structuring.reject_share_limit,
                self.structuring.max_line_bytes,
            ),
            deletes=DeletePolicy.parse(self.deletes),
            key_window_days=self.key_window_days,
            landed_day_column=landed_day_column,
            history_start=_day(f"{self.name}: history_start", self.history_start) if self.history_start else history_start,
        )
        if problems := catalog_rules.table_problems(spec):
            raise ValueError(f"{spec.qualified_name}: " + "; ".join(problems))
        return spec


class RawTableCatalog(dg.Component, dg.Resolvable, dg.Model):
    """The raw tables loaded from the application database or from landed files, one entry each."""

    tables: list[TableEntry]
    _specs: tuple[TableSpec, ...] = PrivateAttr(default=())
    warehouse_schema: str = Field(default="raw_data", description="The warehouse schema the tables are loaded into.")
    history_start: str = Field(
        default=DEFAULT_HISTORY_START.isoformat(), json_schema_extra={"pattern": _DAY}, description="The first day (YYYY-MM-DD) of every daily table that declares no "
        "`history_start` of its own: the first partition; no earlier day is extracted, landed or loaded.",
    )

    @model_validator(mode="after")
    def _names_are_unique(self) -> RawTableCatalog:
        """A name declared twice, or a table whose derived names (partition tables, load and
        staging tables, landing folder) another table already has, is an error of the later
        entry, at its own line: the error is placed at tables.<i>, where the loader finds it."""
        if problem := identifier_problem(self.warehouse_schema, table=True):
            raise ValueError(f"warehouse_schema: {problem}")
        problems = catalog_rules.repeated_names([t.name for t in self.tables])
        if not problems:
            # Each entry was checked alone (to_spec) as it was read; the catalog's specs are made
            # once here, for this check and for build_defs.
            self._specs = tuple(t.to_spec(self.warehouse_schema, _day("history_start", self.history_start)) for t in self.tables)
            problems = derived_name_collisions(self._specs)
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type="value_error", loc=("tables", i), input=self.tables[i].name,
                        ctx={"error": ValueError(f"table {self.tables[i].name!r}: {message}")},
                    )
                    for i, message in problems
                ],
            )
        return self

    @classmethod
    def model(cls) -> type[dg.Model]:
        """The YAML schema is this class's own fields. (Dagster's derived model would also accept
        a template string for each field; an error inside an entry is then reported against that
        union, at the `tables:` line, instead of at the entry's own line.)"""
        return cls

    @property
    def specs(self) -> tuple[TableSpec, ...]:
        return self._specs

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        defs = build_table_definitions(self.specs)
        tree = getattr(context.component_decl, "source_tree", None)
        if tree is None:  # built from Python, not from the YAML file: no lines to point at
            return defs
        return with_catalog_entry_references(defs, Path(tree.source_position_tree.position.filename), self.entry_lines(tree))

    def entry_lines(self, tree) -> dict[dg.AssetKey, int]:
        """The catalog line of the entry behind each asset (its `- name:` line): a table's stage
        and raw assets, and an application table read by several entries, the first of them."""
        positions = tree.source_position_tree.children["attributes"].children["tables"].children
        lines: dict[dg.AssetKey, int] = {}
        for i, spec in enumerate(self.specs):
            line = positions[i].position.start.line
            read = spec.source.tables_read if spec.source is not None else ()
            for key in (stage_asset_key(spec), raw_asset_key(spec), *(source_asset_key(t) for t in read)):
                lines.setdefault(key, line)
        return lines

    @classmethod
    def get_code_references_for_yaml(cls, yaml_path, source_position, context) -> list:
        """None for the component as a whole (its `type:` line): each asset links to its own
        entry instead (build_defs)."""
        return []


def build_table_definitions(tables: Sequence[TableSpec]) -> dg.Definitions:
    """Everything per table, for these tables: what the catalog entries turn into."""
    return dg.Definitions.merge(
        extract_assets.build_defs(tables),
        warehouse_assets.build_defs(tables),
        quality_checks.build_defs(tables),
        automation.build_defs(tables),
    )
