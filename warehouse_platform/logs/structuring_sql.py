"""SQL that structures landed log lines into a table's columns, generated from its declaration.

Two engines run the same declaration (TableSpec.structuring and each column's from_json /
from_field):

- DuckDB, in the platform (local and prod workers): `lines_of_piece_sql` reads the files as text
  with their line numbers, and `structure_sql` returns every line once, either with its
  columns (reason NULL) or with the reason it is rejected. Rejects are found explicitly, never
  through read_json's ignore_errors (which returns an all-NULL row for a malformed line).
- Athena (what a team without the worker would run): `athena_lines_table_sql` (an external
  table of raw lines over the landing folder) and `athena_ctas_sql` (one day structured into
  Parquet, or that day's rejects). Athena has no line numbers: its rejects name the file only.

Every value leaves as text in the format the warehouse's COPY reads: timestamps normalised to
UTC ('YYYY-MM-DD HH:MM:SS.ffffff'), JSON kept whole as JSON text (SUPER / JSONB).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from warehouse_platform.contract.log_formats import (
    COMBINED_LOG_FIELDS,
    COMBINED_LOG_PATTERN,
    LogFormat,
    structured_kind,
)
from warehouse_platform.contract.redshift_types import varchar_bytes
from warehouse_platform.contract.table_spec import Column, TableSpec
from warehouse_platform.logs.reject_reasons import REFUSED_MARK, REJECT_TEXT_CHARS, RejectReason
from warehouse_platform.sql.quoting import quote_ident, quote_literal

# strptime / Joda forms of the combined log's time, e.g. 10/Oct/2026:13:55:36 +0900
_CLF_TIME_DUCKDB = "%d/%b/%Y:%H:%M:%S %z"
_CLF_TIME_ATHENA = "dd/MMM/yyyy:HH:mm:ss Z"
# An ISO 8601 time in a JSON line must carry its offset: a local time without one cannot be put in UTC.
_OFFSET_PATTERN = r"(Z|[+-]\d{2}(:?\d{2})?)$"
REJECTED_LINE_PREVIEW = REJECT_TEXT_CHARS
# An escaped NUL in JSON text: \u0000 after an even number of backslashes (\\u0000 is text).
_NUL_ESCAPE_PATTERN = r"(^|[^\\])(\\\\)*\\u0000"
# An integer column's text as JSON writes a whole number (1e3 reads as 1000.0).
_WHOLE_NUMBER_PATTERN = r"^[+-]?[0-9]+(\.0*)?$"
_INTEGER_KINDS = ("smallint", "integer", "bigint")
# The mark as SQL (a NUL is never pasted into a literal).
_MARK_SQL = f"chr({ord(REFUSED_MARK)})"


def _sql_string(value: str) -> str:
    return quote_literal(value)


@dataclass(frozen=True)
class _Dialect:
    """The few functions where DuckDB and Athena (Trino) differ."""

    name: str

    @property
    def duckdb(self) -> bool:
        return self.name == "duckdb"

    def json_doc(self, line: str) -> str:
        if self.duckdb:
            return f"CASE WHEN json_valid({line}) AND json_type({line}) = 'OBJECT' THEN {line} END"
        # Only an object casts to a map: a number, an array or a broken line gives NULL.
        return f"CASE WHEN try(CAST(json_parse({line}) AS map(varchar, json))) IS NOT NULL THEN {line} END"

    def json_values(self, doc: str, spec: TableSpec) -> str:
        """DuckDB: every declared path read in one parse of the line, as two lists (texts, and
        values kept whole as JSON), instead of a json_extract per column, which parsed each line
        once a column (7 times for app_events: two thirds of the step's SQL time). The list form
        returns, path by path, exactly what the single-path call returns. Athena: nothing."""
        if not self.duckdb:
            return ""
        texts, wholes = _json_paths(spec, whole=False), _json_paths(spec, whole=True)
        out = ""
        if texts:
            out += f", json_extract_string({doc}, [{', '.join(_sql_string(p) for p in texts)}]) AS json_texts"
        if wholes:
            out += f", json_extract({doc}, [{', '.join(_sql_string(p) for p in wholes)}]) AS json_wholes"
        return out

    def json_text(self, doc: str, spec: TableSpec, path: str) -> str:
        if self.duckdb:
            return f"json_texts[{_json_paths(spec, whole=False).index(path) + 1}]"
        return f"json_extract_scalar({doc}, {_sql_string(path)})"

    def json_whole(self, doc: str, spec: TableSpec, path: str) -> str:
        if self.duckdb:
            return f"CAST(json_wholes[{_json_paths(spec, whole=True).index(path) + 1}] AS VARCHAR)"
        return f"json_format(json_extract({doc}, {_sql_string(path)}))"

    def matches(self, value: str, pattern: str) -> str:
        return f"regexp_matches({value}, {_sql_string(pattern)})" if self.duckdb else f"regexp_like({value}, {_sql_string(pattern)})"

    def fields(self, line: str) -> str:
        """DuckDB: every group at once, as a struct (its regexp_extract takes group numbers up to 9
        only). A line that does not match gives empty strings; as the pattern is anchored and
        client_ip is \\S+, an empty client_ip means no match: the pattern runs once a line."""
        names = ", ".join(_sql_string(f) for f in COMBINED_LOG_FIELDS)
        return f"regexp_extract({line}, {_sql_string(COMBINED_LOG_PATTERN)}, [{names}])"

    def group(self, line: str, field: str) -> str:
        if self.duckdb:
            return f"struct_extract(fields, {_sql_string(field)})"
        return f"regexp_extract({line}, {_sql_string(COMBINED_LOG_PATTERN)}, {COMBINED_LOG_FIELDS.index(field) + 1})"

    def iso_utc(self, raw: str) -> str:
        if self.duckdb:
            return f"(try_cast({raw} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"
        return f"CAST(try(from_iso8601_timestamp({raw})) AT TIME ZONE 'UTC' AS timestamp(6))"

    def clf_utc(self, raw: str) -> str:
        if self.duckdb:
            return f"(try_strptime({raw}, {_sql_string(_CLF_TIME_DUCKDB)}) AT TIME ZONE 'UTC')"
        return f"CAST(try(parse_datetime({raw}, {_sql_string(_CLF_TIME_ATHENA)})) AT TIME ZONE 'UTC' AS timestamp(6))"

    def try_cast(self, raw: str, kind: str) -> str:
        return f"try_cast({raw} AS {kind.upper()})"

    def contains(self, value: str, text: str) -> str:
        return f"contains({value}, {_sql_string(text)})" if self.duckdb else f"strpos({value}, {_sql_string(text)}) > 0"

    def byte_length(self, raw: str) -> str:
        return f"strlen({raw})" if self.duckdb else f"length(to_utf8({raw}))"

    def md5_hex(self, line: str) -> str:
        return f"md5({line})" if self.duckdb else f"lower(to_hex(md5(to_utf8({line}))))"

    def timestamp_text(self, value: str) -> str:
        if self.duckdb:
            return f"strftime({value}, '%Y-%m-%d %H:%M:%S.%f')"
        return f"format_datetime({value}, 'yyyy-MM-dd HH:mm:ss.SSSSSS')"

    def text(self, value: str) -> str:
        return f"CAST({value} AS VARCHAR)"


def _json_paths(spec: TableSpec, *, whole: bool) -> list[str]:
    """The JSON paths the table's columns read, as text or (whole) as JSON, each once, in column order."""
    paths = [c.from_json for c in spec.columns if c.from_json is not None and (structured_kind(c.sql_type) == "json") == whole]
    return list(dict.fromkeys(paths))


_DUCKDB = _Dialect("duckdb")
_ATHENA = _Dialect("athena")


def _raw_value(spec: TableSpec, column: Column, d: _Dialect) -> str:
    """The column's text as it stands in the line (NULL when absent, '-' in a log field)."""
    if column.from_json is not None:
        if structured_kind(column.sql_type) == "json":
            return d.json_whole("doc", spec, column.from_json)
        return d.json_text("doc", spec, column.from_json)
    field = column.from_field
    if field == "landed_file":
        return "file"
    if field == "landed_line":
        return d.text("line_number")
    if field == "line_id":
        return f"line_md5 || ':' || {d.text('occurrence')}"
    return f"CASE WHEN matched THEN nullif({d.group('line', field)}, '-') END"


def _typed_value(spec: TableSpec, column: Column, raw: str, d: _Dialect) -> str | None:
    """The typed value (NULL when the text does not convert), or None for text kept as it is."""
    kind = structured_kind(column.sql_type)
    if kind in ("text", "json"):
        return None
    if kind == "timestamp":
        if column.from_field == "time":
            return d.clf_utc(raw)
        return f"CASE WHEN {d.matches(raw, _OFFSET_PATTERN)} THEN {d.iso_utc(raw)} END"
    return d.try_cast(raw, kind)


def _output_text(column: Column, raw: str, typed: str | None, d: _Dialect) -> str:
    if typed is None:
        return raw
    if structured_kind(column.sql_type) == "timestamp":
        return d.timestamp_text(typed)
    return d.text(typed)


def _expected(column: Column) -> str:
    kind = structured_kind(column.sql_type)
    if kind == "timestamp":
        return "a time in the combined log format" if column.from_field == "time" else "a timestamp with a time zone offset"
    return f"of type {column.sql_type}"


def _source_label(column: Column) -> str:
    return column.from_json or column.from_field


def _refused(d: _Dialect) -> str:
    """A line the reader refused by its bytes (logs/landed_lines.py): it starts with REFUSED_MARK."""
    return f"starts_with(line, {_MARK_SQL})"


def _key_lists(spec: TableSpec, d: _Dialect) -> list[tuple[str, str]]:
    """(name, expression) of the key lists the repeated-key tests read, computed once a line:
    the line's own object, and each object a declared path goes into (e.g. $.properties for
    $.properties.page) or a json column keeps whole. Deeper objects inside a kept one are not
    looked into. DuckDB and JSON lines only (Athena's CAST to a map refuses a repeated key)."""
    if not d.duckdb or spec.structuring.format != LogFormat.JSON_LINES:
        return []
    paths = [c.from_json for c in spec.columns if c.from_json is not None]
    inner = {p.rsplit(".", 1)[0] for p in paths if p.count(".") > 1}
    whole = {c.from_json for c in spec.columns if c.from_json is not None and structured_kind(c.sql_type) == "json"}
    lists = [("__keys", "json_keys(doc)")]
    for i, path in enumerate(sorted(inner | whole)):
        raw = _raw_of(spec, path, json_only=True)
        lists.append((f"__keys_{i}", f"json_keys({raw})" if raw else f"json_keys(doc, {_sql_string(path)})"))
    return lists


def _repeated_key_tests(spec: TableSpec, d: _Dialect) -> list[str]:
    """Conditions true when an object the columns read holds a key twice (one reader takes the
    first copy, JSONB the last). Counting distinct keys is the costly part (a hash table a line),
    so: the line's object has no repeat when it has exactly as many keys as declared top-level
    keys were found; a small object is compared pair by pair; only the rest count in full."""
    tests = []
    for name, _ in _key_lists(spec, d):
        keys = quote_ident(name)
        full = f"len({keys}) <> len(list_distinct({keys}))"
        if name == "__keys":
            top = sorted({c.from_json.split(".")[1] for c in spec.columns if c.from_json is not None})
            found = " + ".join(
                f"CAST({raw} IS NOT NULL AS INTEGER)" if (raw := _raw_of(spec, "$." + key)) else "0" for key in top
            )
            tests.append(f"len({keys}) <> {found or '0'} AND {full}")
        else:
            pairs = f"{keys}[1] = {keys}[2] OR {keys}[1] = {keys}[3] OR {keys}[2] = {keys}[3]"
            tests.append(
                f"CASE WHEN len({keys}) < 2 THEN false WHEN len({keys}) = 2 THEN {keys}[1] = {keys}[2] "
                f"WHEN len({keys}) = 3 THEN {pairs} ELSE {full} END"
            )
    return tests


def _raw_of(spec: TableSpec, path: str, json_only: bool = False) -> str | None:
    """The raw column reading `path` (a json column's, when json_only: it holds the object's text)."""
    for c in spec.columns:
        if c.from_json == path and (not json_only or structured_kind(c.sql_type) == "json"):
            return quote_ident(c.name + "__raw")
    return None


def _reason_terms(spec: TableSpec, d: _Dialect) -> list[str]:
    """The reasons a line is rejected, in the order they are tested (the first one found wins);
    each reason's phrase is logs/reject_reasons.RejectReason's."""
    fmt = spec.structuring.format
    R = RejectReason
    terms = []
    if d.duckdb:  # Athena reads the landed bytes itself
        terms.append(f"WHEN {_refused(d)} THEN split_part(line, {_MARK_SQL}, 2)")
    terms.append(f"WHEN line = '' THEN {_sql_string(R.EMPTY.phrase)}")
    if fmt == LogFormat.JSON_LINES:
        terms.append(f"WHEN doc IS NULL THEN {_sql_string(R.NOT_JSON_OBJECT.phrase)}")
        # Warehouse text and JSONB refuse NUL: a reject here, not a COPY error naming a staged part.
        terms.append(
            f"WHEN {d.contains('line', chr(92) + 'u0000')} AND {d.matches('line', _NUL_ESCAPE_PATTERN)} "
            f"THEN {_sql_string(R.NUL_ESCAPE.phrase)}"
        )
        terms += [f"WHEN {t} THEN {_sql_string(R.DUPLICATE_KEY.phrase)}" for t in _repeated_key_tests(spec, d)]
    else:
        terms.append(f"WHEN NOT matched THEN {_sql_string(R.NOT_COMBINED_LOG.phrase)}")
    for column in spec.columns:
        raw, typed = f"{quote_ident(column.name + '__raw')}", f"{quote_ident(column.name + '__typed')}"
        label = f"{column.name} ({_source_label(column)})"
        if not column.nullable:
            terms.append(f"WHEN {raw} IS NULL THEN {_sql_string(label + ': ' + R.MISSING.phrase)}")
        if column.from_json is not None and structured_kind(column.sql_type) in _INTEGER_KINDS:
            # A cast rounds 1.5 to 2: a silent coercion, so a fraction is a reject of its own.
            terms.append(
                f"WHEN {raw} IS NOT NULL AND {d.contains(raw, '.')} AND NOT {d.matches(raw, _WHOLE_NUMBER_PATTERN)} THEN "
                f"{_sql_string(label + ': ')} || substr({raw}, 1, 60) || {_sql_string(f' {R.FRACTION.phrase} {column.sql_type}')}"
            )
        if _typed_value(spec, column, raw, d) is not None:
            terms.append(
                f"WHEN {raw} IS NOT NULL AND {typed} IS NULL THEN "
                f"{_sql_string(label + ': ')} || substr({raw}, 1, 60) || {_sql_string(f' {R.WRONG_TYPE.phrase} ' + _expected(column))}"
            )
        if (limit := varchar_bytes(column.sql_type)) is not None:
            terms.append(
                f"WHEN {d.byte_length(raw)} > {limit} THEN {_sql_string(label + ': ')} || {d.text(d.byte_length(raw))} "
                f"|| {_sql_string(f' {R.TOO_WIDE.phrase} {column.sql_type}')}"
            )
    return terms


def _numbered_lines(spec: TableSpec, lines: str, d: _Dialect) -> str:
    """The CTE(s) ending in `numbered`: the lines, and for a table that declares line_id, each
    line's MD5 (line_md5) and which occurrence of an identical line of its file it is.

    DuckDB: a window over every line (PARTITION BY file, line) cost more than the regexp
    itself, for 1 in thousands of lines that repeats in its file. So only lines whose (file,
    MD5) repeats are windowed, still by the line itself (two lines with one MD5, which an
    attacker can make, keep their own counts), and the rest are occurrence 1: the same numbers
    the window over every line gives."""
    # DuckDB's lines also carry their file's number (file_numbers), which the rows' order reads.
    file_cols = "file, file_number" if d.duckdb else "file"
    if not any(c.from_field == "line_id" for c in spec.columns):
        return f"numbered AS (\n    SELECT {file_cols}, line_number, line\n    FROM {lines}\n)"
    if not d.duckdb:  # Athena has no line numbers: any order of equal lines
        return (
            f"numbered AS (\n    SELECT file, line_number, line, {d.md5_hex('line')} AS line_md5,\n"
            f"        row_number() OVER (PARTITION BY file, line ORDER BY line) AS occurrence\n    FROM {lines}\n)"
        )
    return (
        f"hashed AS (\n    SELECT {file_cols}, line_number, line, {d.md5_hex('line')} AS line_md5\n    FROM {lines}\n"
        # A file by its number (one to one with its name): grouping and joining by an integer.
        "), repeated AS (\n"
        "    SELECT file_number, line_number,\n"
        "        row_number() OVER (PARTITION BY file_number, line ORDER BY line_number) AS occurrence\n"
        "    FROM hashed SEMI JOIN (\n"
        "        SELECT file_number, line_md5 FROM hashed GROUP BY file_number, line_md5 HAVING count(*) > 1\n"
        "    ) AS repeats USING (file_number, line_md5)\n"
        "), numbered AS (\n"
        "    SELECT hashed.*, coalesce(repeated.occurrence, 1) AS occurrence\n"
        "    FROM hashed LEFT JOIN repeated USING (file_number, line_number)\n"
        ")"
    )


def _structure_query(spec: TableSpec, lines_relation: str, d: _Dialect, extra_where: str = "") -> str:
    if spec.structuring is None:
        raise ValueError(f"{spec.qualified_name} declares no structuring")
    fmt = spec.structuring.format
    if fmt == LogFormat.JSON_LINES:
        parse = d.json_doc("line") + " AS doc" + d.json_values("doc", spec)
    else:
        if d.duckdb:
            parse = f"{d.fields('line')} AS fields, struct_extract(fields, 'client_ip') <> '' AS matched"
        else:
            parse = d.matches("line", COMBINED_LOG_PATTERN) + " AS matched"
    numbered = _numbered_lines(spec, lines_relation + extra_where, d)
    raws = ",\n        ".join(f"{_raw_value(spec, c, d)} AS {quote_ident(c.name + '__raw')}" for c in spec.columns)
    typed = [
        f"{t} AS {quote_ident(c.name + '__typed')}"
        for c in spec.columns
        if (t := _typed_value(spec, c, quote_ident(c.name + "__raw"), d)) is not None
    ] + [f"{e} AS {quote_ident(name)}" for name, e in _key_lists(spec, d)]
    outputs = ",\n    ".join(
        f"{_output_text(c, quote_ident(c.name + '__raw'), quote_ident(c.name + '__typed') if _typed_value(spec, c, 'x', d) else None, d)} "
        f"AS {quote_ident(c.name)}"
        for c in spec.columns
    )
    reasons = "\n        ".join(_reason_terms(spec, d))
    # A reject keeps its line; one the reader refused keeps the text the reader kept of it.
    rejected_text = "WHEN reason IS NULL THEN NULL " + (
        f"WHEN {_refused(d)} THEN split_part(line, {_MARK_SQL}, 3) " if d.duckdb else ""
    ) + "ELSE line"
    return (
        f"WITH {numbered}, parsed AS (\n"
        f"    SELECT numbered.*, {parse} FROM numbered\n"
        "), raw AS (\n"
        f"    SELECT parsed.*,\n        {raws}\n    FROM parsed\n"
        "), typed AS (\n"
        f"    SELECT raw.*{''.join(', ' + t for t in typed)} FROM raw\n"
        ")\n"
        f"SELECT file, {'file_number, ' if d.duckdb else ''}line_number, reason,\n"
        # The line itself only for a reject (a row keeps its columns): half the memory.
        f"    CASE {rejected_text} END AS line,\n"
        f"    {outputs}\n"
        "FROM (\n"
        f"    SELECT typed.*, CASE\n        {reasons}\n    END AS reason\n"
        "    FROM typed\n"
        ")"
    )


# --- DuckDB ---------------------------------------------------------------------------------

LINES_TABLE = "landed_lines"
STRUCTURED_TABLE = "structured_lines"


def lines_table_sql() -> str:
    """landed_lines(file, file_number, line_number, line), empty; a TEMP table (appended a piece at
    a time, which a database file would log and checkpoint: reading 1M JSON lines took 3.6 s
    instead of 1.5 s)."""
    return f"CREATE OR REPLACE TEMP TABLE {LINES_TABLE} (file VARCHAR, file_number INTEGER, line_number BIGINT, line VARCHAR)"


def file_numbers(names: Iterable[str]) -> dict[str, int]:
    """Each landed file's number: its place among the names in sorted order (the order rows of
    one key are staged in: structured_rows_sql), so the sort compares two integers instead of a
    key's worth of text."""
    return {name: number for number, name in enumerate(sorted(set(names)))}


def lines_of_piece_sql(path: str, name: str, file_number: int, lines_before: int) -> str:
    """Insert one piece of a landed file into landed_lines: the local text file `path`, a piece of
    the file known by `name` (its landing key), cut at a line end after `lines_before` lines. One
    INSERT a piece: read_text holds a piece whole, and a single read_text of many files would hold
    them all in one chunk; so memory is bounded by the piece size. read_text + string_split keeps every line, blank ones included, with its true number; a
    CR before the newline is dropped (suffix + slice: rtrim(line, chr(13)) is several times slower)."""
    return (
        f"INSERT INTO {LINES_TABLE}\n"
        f"SELECT {_sql_string(name)}, {int(file_number)}, line_number + {int(lines_before)},\n"
        "    CASE WHEN suffix(line, chr(13)) THEN line[:-2] ELSE line END\n"
        "FROM (\n"
        "    SELECT unnest(lines) AS line, generate_subscripts(lines, 1) AS line_number\n"
        "    FROM (\n"
        "        SELECT string_split(CASE WHEN suffix(content, chr(10)) THEN content[1:-2] ELSE content END, chr(10)) AS lines\n"
        f"        FROM read_text({_sql_string(path)})\n"
        "        WHERE content <> ''\n"
        "    )\n"
        ")"
    )


def landed_lines_sql(files: Sequence[tuple[str, str] | tuple[str, str, int]]) -> str:
    """landed_lines from local text files, in one script: (path on disk, the name the file is
    known by[, the number of lines before it]); a landed file may arrive as several pieces. The
    step itself inserts its pieces one by one as they are cut (stage/log_structuring._landed_lines)."""
    if not files:
        raise ValueError("no files to structure")
    numbers = file_numbers(f[1] for f in files)
    return ";\n".join([
        lines_table_sql(),
        *(lines_of_piece_sql(f[0], f[1], numbers[f[1]], int(f[2]) if len(f) > 2 else 0) for f in files),
    ])


def structure_sql(spec: TableSpec, temporary: bool = True) -> str:
    """structured_lines: every landed line with its reason (NULL: a row) and its column texts; a
    TEMP table (in memory, spilling to the temporary directory), or with `temporary` False one of
    the connection's database file (see stage/log_structuring.py: a large day)."""
    kind = "TEMP TABLE" if temporary else "TABLE"
    return f"CREATE OR REPLACE {kind} {STRUCTURED_TABLE} AS\n" + _structure_query(spec, LINES_TABLE, _DUCKDB)


def structured_rows_sql(spec: TableSpec) -> str:
    """The rows, ordered by the table's key, then landed file and line: the same files always
    stage the same bytes (a re-run is a no-op), and equal keys are neighbours, so the stage's key
    evidence is exact (staged_files/part_writer.py, keys_in_order). The file is ordered by its
    number, which follows its name's order (file_numbers): the same order as by the name, with
    integers to compare (the sort took a fifth less CPU at 1M lines). Empty text is NULL, the stage's
    one rule for it (as the extract's NULLIF, sql/extract.py)."""
    values = ", ".join(f"nullif({quote_ident(c)}, '') AS {quote_ident(c)}" for c in spec.column_names)
    order = ", ".join([*(quote_ident(k) for k in spec.primary_key), "file_number", "line_number"])
    return f"SELECT {values} FROM {STRUCTURED_TABLE} WHERE reason IS NULL ORDER BY {order}"


def structured_rows_copy_sql(spec: TableSpec, path: str) -> str:
    """structured_rows_sql written by DuckDB as CSV records with a header, in the dialect Postgres's
    COPY TO writes and the loader's COPY reads: comma, `"` quotes with a quote doubled, a field
    holding a comma, quote, CR or LF quoted (newlines inside the quotes), NULL an empty unquoted
    field. Every structured value is already text in the warehouse's format (UTC timestamps
    without offset, JSON as JSON text), so the writer never formats a value itself."""
    return (
        f"COPY ({structured_rows_sql(spec)}) TO {_sql_string(path)} "
        "(FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"', NULLSTR '')"
    )


def days_of_rows_sql(column: str) -> str:
    """Per day of `column` among the structured rows (its UTC date: the text's first 10
    characters), the first line holding it, by file and line, with its value and the day's row
    count. A day's files span a day or two, so few rows; the rule that judges the days is
    Python's (contract/history.day_not_of_folder), not repeated here."""
    col = quote_ident(column)
    return (
        f"SELECT substr({col}, 1, 10) AS day, min(struct_pack(file := file, line := line_number, value := {col})), count(*)\n"
        f"FROM {STRUCTURED_TABLE} WHERE reason IS NULL AND {col} IS NOT NULL AND {col} <> '' GROUP BY 1 ORDER BY 1"
    )


def rejected_lines_sql() -> str:
    return (
        f"SELECT file, line_number, reason, substr(line, 1, {REJECTED_LINE_PREVIEW}) AS line "
        f"FROM {STRUCTURED_TABLE} WHERE reason IS NOT NULL ORDER BY file, line_number"
    )


def line_count_sql() -> str:
    return f"SELECT count(*) FROM {LINES_TABLE}"


# --- Athena ---------------------------------------------------------------------------------


def athena_lines_table(spec: TableSpec) -> str:
    return f"{spec.name}_landed_lines"


def athena_lines_table_sql(spec: TableSpec, database: str, landing_url: str, first_day: str | None = None) -> str:
    """An external table of the landed lines, one string column, partitioned by the landing
    folder's day (partition projection: no MSCK REPAIR per new day), from `first_day` (default:
    the table's history_start). Gzip'd files are read by their extension. \\u0001 never occurs
    in a JSON line or an access log line, so the whole line is the one column."""
    first_day = first_day or spec.history_start.isoformat()
    location = landing_url.rstrip("/") + "/"
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {quote_ident(database)}.{quote_ident(athena_lines_table(spec))} (\n"
        "    line string\n"
        ")\n"
        "PARTITIONED BY (day string)\n"
        "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\u0001'\n"
        "STORED AS TEXTFILE\n"
        f"LOCATION {_sql_string(location)}\n"
        "TBLPROPERTIES (\n"
        "    'projection.enabled' = 'true',\n"
        "    'projection.day.type' = 'date',\n"
        "    'projection.day.format' = 'yyyy-MM-dd',\n"
        f"    'projection.day.range' = {_sql_string(first_day + ',NOW')},\n"
        f"    'storage.location.template' = {_sql_string(location + 'day=${day}/')}\n"
        ")"
    )


def athena_ctas_sql(spec: TableSpec, database: str, day: str, output_url: str, *, rejects: bool = False) -> str:
    """One day of the table as Parquet (CTAS into `output_url`, which must be empty), or that
    day's rejected lines (file, reason, line) beside it: the same rules as the DuckDB step."""
    lines = (
        f'(SELECT "$path" AS file, CAST(NULL AS bigint) AS line_number, line '
        f"FROM {quote_ident(database)}.{quote_ident(athena_lines_table(spec))} WHERE day = {_sql_string(day)}) AS landed"
    )
    structured = _structure_query(spec, lines, _ATHENA)
    if rejects:
        select = f"SELECT file, reason, substr(line, 1, {REJECTED_LINE_PREVIEW}) AS line FROM structured WHERE reason IS NOT NULL"
        name = f"{spec.name}_rejects_{day.replace('-', '_')}"
    else:
        select = f"SELECT {', '.join(quote_ident(c) for c in spec.column_names)} FROM structured WHERE reason IS NULL"
        name = f"{spec.name}_{day.replace('-', '_')}"
    return (
        f"CREATE TABLE {quote_ident(database)}.{quote_ident(name)}\n"
        f"WITH (format = 'PARQUET', write_compression = 'SNAPPY', external_location = {_sql_string(output_url.rstrip('/') + '/')})\n"
        f"AS WITH structured AS (\n{structured}\n)\n{select}"
    )
