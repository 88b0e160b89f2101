"""RedshiftWarehouse against a recorded Redshift cluster: only the network is replaced.

The platform's own code sends its statements over a connection; instead of a server, each
statement is parsed with sqlglot's Redshift dialect and run (by DuckDB) over a small model of
what Redshift holds: its system tables (STV_TBL_PERM one row per table and slice, STV_BLOCKLIST
one row per 1 MB block of each column, SVV_TABLE_INFO), the user tables, and UNLOAD writing its
files and manifest where the statement says. The answers follow from what a statement computes,
not from its text: a rows-per-slice query that counts blocks, or reads another table's slices,
gets block counts or that table's rows, and the figures the check shows are then wrong.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot.tokens import TokenType

from warehouse_platform.catalog import table
from warehouse_platform.quality import evaluations
from warehouse_platform.rules.skew import skew_ratio
from warehouse_platform.sql.export import ExportOptions
from warehouse_platform.stage.storage import LocalFolderStage
from warehouse_platform.warehouse.resources import RedshiftWarehouse

USER_SESSION_CHANNEL = table("user_session_channel")
SLICES = 4

# raw_data.user_session_channel under DISTKEY(userid): user 1 owns most sessions, so slice 2
# (where Redshift's hash put user 1) holds most rows. Rows per slice, as the cluster stores them.
PER_SLICE = (120, 95, 2410, 101)
# Another table on the same slices: a query that does not filter by table reads its rows too.
OTHER_PER_SLICE = (5000, 5100, 4900, 5000)
# Values a 1 MB block of each column held when these tables were written (the block count is
# not the row count: a slice of 2,410 rows has 5 blocks of each of 6 columns).
VALUES_PER_BLOCK = 500
COLUMNS_STORED = 6  # userid, sessionid, channel and Redshift's hidden insert_xid, deletexid, oid


def fnv_hash(value: str) -> int:
    """Redshift's FNV_HASH: 64-bit FNV-1a over the value's bytes, as a signed BIGINT."""
    h = 0xCBF29CE484222325
    for byte in str(value).encode():
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h - (1 << 64) if h >= 1 << 63 else h


def _sessions() -> list[tuple[int, str, str]]:
    """The table's rows: 2,726 sessions, 2,300 of them user 1's."""
    users = [1] * 2300 + [2] * 40 + [3 + i % 97 for i in range(386)]
    return [(u, f"{i:032x}", ("Google", "Facebook", "Naver")[i % 3]) for i, u in enumerate(users)]


def _blocks(table_id: int, per_slice: tuple[int, ...]) -> list[tuple]:
    rows = []
    for slice_, n in enumerate(per_slice):
        for col in range(COLUMNS_STORED):
            for block, start in enumerate(range(0, n, VALUES_PER_BLOCK)):
                rows.append((slice_, col, table_id, block, min(VALUES_PER_BLOCK, n - start)))
    return rows


class RecordedCluster:
    """Redshift's tables, in DuckDB; `table_info` is SVV_TABLE_INFO's rows (Redshift lists no
    row for an empty table, and NULL skew_rows for EVEN and ALL tables)."""

    def __init__(self, stage: LocalFolderStage | None = None, table_info: list[tuple] | None = None) -> None:
        self.stage = stage
        self.statements: list[str] = []
        db = self.db = duckdb.connect()
        db.create_function("fnv_hash", fnv_hash, ["VARCHAR"], "BIGINT")
        db.execute("CREATE TABLE stv_tbl_perm (slice INT, id INT, name VARCHAR, rows BIGINT, sorted_rows BIGINT, temp INT)")
        for table_id, name, per_slice in ((100, "user_session_channel", PER_SLICE), (101, "session_timestamp", OTHER_PER_SLICE)):
            db.executemany("INSERT INTO stv_tbl_perm VALUES (?, ?, ?, ?, ?, 0)", [(s, table_id, name, n, n) for s, n in enumerate(per_slice)])
        db.execute("CREATE TABLE stv_blocklist (slice INT, col INT, tbl INT, blocknum INT, num_values INT)")
        db.executemany("INSERT INTO stv_blocklist VALUES (?, ?, ?, ?, ?)", _blocks(100, PER_SLICE) + _blocks(101, OTHER_PER_SLICE))
        db.execute(
            'CREATE TABLE svv_table_info (table_id INT, "schema" VARCHAR, "table" VARCHAR, diststyle VARCHAR, '
            "skew_rows DECIMAL(19, 2), tbl_rows DECIMAL(38, 0))"
        )
        if table_info is None:
            table_info = [
                (100, "raw_data", "user_session_channel", "KEY(userid)", Decimal("25.37"), Decimal(sum(PER_SLICE))),
                (101, "raw_data", "session_timestamp", "KEY(sessionid)", Decimal("1.04"), Decimal(sum(OTHER_PER_SLICE))),
            ]
        if table_info:
            db.executemany("INSERT INTO svv_table_info VALUES (?, ?, ?, ?, ?, ?)", table_info)
        db.execute("CREATE SCHEMA raw_data")
        db.execute("CREATE TABLE raw_data.user_session_channel (userid INT, sessionid VARCHAR, channel VARCHAR)")
        db.executemany("INSERT INTO raw_data.user_session_channel VALUES (?, ?, ?)", _sessions())

    def execute(self, sql: str, params=None) -> list[tuple]:
        self.statements.append(sql)
        if sql.lstrip().upper().startswith("UNLOAD"):
            self._unload(sql)
            return []
        statement = sqlglot.transpile(_bound(sql, params), read="redshift", write="duckdb")[0]
        return self.db.execute(statement).fetchall()

    def _unload(self, sql: str) -> None:
        """UNLOAD as Redshift runs it, from what the statement says: the query's rows in one
        file per slice, `<to>0000_part_00.gz` ..., and with MANIFEST the manifest at
        `<to>manifest` (VERBOSE: each file's record count and size, and the columns)."""
        unload = parse_unload(sql)
        cursor = self.db.execute(sqlglot.transpile(unload["query"], read="redshift", write="duckdb")[0])
        columns, rows = [d[0] for d in cursor.description], cursor.fetchall()
        entries = []
        for slice_ in range(SLICES):
            text = io.StringIO()
            writer = csv.writer(text, delimiter=unload["delimiter"], lineterminator="\n")
            if unload["header"]:
                writer.writerow(columns)
            mine = rows[slice_::SLICES]
            writer.writerows(mine)
            data = gzip.compress(text.getvalue().encode()) if unload["gzip"] else text.getvalue().encode()
            url = f"{unload['to']}{slice_:04d}_part_00" + (".gz" if unload["gzip"] else "")
            self._put(url, data)
            entries.append({"url": url, "meta": {"content_length": len(data), "record_count": len(mine)}})
        if unload["manifest"]:
            manifest: dict = {"entries": entries if unload["verbose"] else [{"url": e["url"]} for e in entries]}
            if unload["verbose"]:
                manifest["schema"] = {"elements": [{"name": c, "type": {"base": "character varying"}} for c in columns]}
                manifest["meta"] = {"author": {"name": "Amazon Redshift", "version": "1.0.0"}}
            self._put(f"{unload['to']}manifest", json.dumps(manifest).encode())

    def _put(self, url: str, data: bytes) -> None:
        path = Path(self.stage.root) / self.stage.key_for(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _bound(sql: str, params) -> str:
    """psycopg2's parameter binding, as literals (psycopg2 reads `%` only when given parameters)."""
    if params is None:
        return sql
    literal = lambda v: "NULL" if v is None else str(v) if isinstance(v, int | float | Decimal) else "'" + str(v).replace("'", "''") + "'"  # noqa: E731
    if isinstance(params, dict):
        sql = re.sub(r"%\((\w+)\)s", lambda m: literal(params[m.group(1)]), sql)
    else:
        values = iter(params)
        sql = re.sub(r"%s", lambda m: literal(next(values)), sql)
    return sql.replace("%%", "%")


def parse_unload(sql: str) -> dict:
    """UNLOAD's parts, read from Redshift's own tokens: the quoted query, the TO prefix, and the
    options that decide which files it writes and how."""
    keyword, rest = sql.split(None, 1)
    assert keyword.upper() == "UNLOAD", sql
    # After the keyword (sqlglot reads a whole UNLOAD as one opaque command).
    tokens = sqlglot.Dialect.get_or_raise("redshift").tokenize(rest)
    words = [t.text.upper() if t.token_type != TokenType.STRING else None for t in tokens]
    strings = {i: t.text for i, t in enumerate(tokens) if t.token_type == TokenType.STRING}
    assert tokens[0].token_type == TokenType.L_PAREN and 1 in strings and tokens[2].token_type == TokenType.R_PAREN, sql
    to = words.index("TO")
    delimiter = next((strings[i + 2] for i, w in enumerate(words) if w == "DELIMITER" and words[i + 1] == "AS"), "|")
    return {
        "query": strings[1], "to": strings[to + 1], "manifest": "MANIFEST" in words, "verbose": "VERBOSE" in words,
        "header": "HEADER" in words, "gzip": "GZIP" in words, "delimiter": delimiter,
    }


class _Cursor:
    def __init__(self, cluster: RecordedCluster) -> None:
        self.cluster, self.rows, self.rowcount = cluster, [], -1

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def execute(self, sql: str, params=None) -> None:
        self.rows = self.cluster.execute(sql, params)
        self.rowcount = len(self.rows)

    def fetchall(self) -> list[tuple]:
        return self.rows

    def fetchone(self):
        return self.rows[0] if self.rows else None


class _Connection:
    autocommit = False

    def __init__(self, cluster: RecordedCluster) -> None:
        self.cluster = cluster

    def cursor(self) -> _Cursor:
        return _Cursor(self.cluster)

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass


class RecordedRedshift(RedshiftWarehouse):
    """The production resource, its connection the recorded cluster's."""

    def _connect(self):
        return _Connection(self.__dict__["_cluster"])


def _warehouse(cluster: RecordedCluster) -> RecordedRedshift:
    warehouse = RecordedRedshift(host="h", database="d", user="u", password="p", iam_role_arn="arn:aws:iam::1:role/r", slice_count=SLICES)
    warehouse.__dict__["_cluster"] = cluster
    return warehouse


def test_rows_per_slice_of_the_distkey_are_the_rows_each_slice_stores():
    """Rows, summed per slice for this table only: not blocks, not values of every column, not
    another table's rows."""
    assert _warehouse(RecordedCluster()).rows_per_slice(USER_SESSION_CHANNEL, "userid") == PER_SLICE


def test_another_candidate_column_is_hashed_over_the_slices_as_redshift_would():
    cluster = RecordedCluster()
    expected = [0] * SLICES
    for _, sessionid, _ in _sessions():
        # Redshift's % keeps the dividend's sign (truncation); abs() of that is abs(h) mod n.
        expected[abs(fnv_hash(sessionid)) % SLICES] += 1
    assert _warehouse(cluster).rows_per_slice(USER_SESSION_CHANNEL, "sessionid") == tuple(expected)
    assert sum(expected) == len(_sessions()) and max(expected) < 2 * min(expected)


def test_reported_skew_is_svv_table_info_skew_rows_of_this_table():
    assert _warehouse(RecordedCluster()).reported_skew(USER_SESSION_CHANNEL) == 25.37


@pytest.mark.parametrize(
    "table_info",
    [[], [(100, "raw_data", "user_session_channel", "EVEN", None, Decimal("10"))]],
    ids=["empty-table-not-listed", "even-table-null-skew"],
)
def test_reported_skew_is_absent_for_an_empty_or_even_table(table_info):
    assert _warehouse(RecordedCluster(table_info=table_info)).reported_skew(USER_SESSION_CHANNEL) is None


def test_the_skew_check_on_redshift_shows_redshifts_own_figures():
    result = evaluations.distribution_skew(_warehouse(RecordedCluster()), USER_SESSION_CHANNEL, joins={"sessionid": 2})
    assert not result.passed
    rows = [r.data["rows"] for r in result.metadata["rows_per_slice"].value.records]
    assert rows == list(PER_SLICE)
    assert result.metadata["skew_rows"].value == round(skew_ratio(PER_SLICE), 3) == round(2410 / 95, 3)
    assert result.metadata["svv_table_info_skew_rows"].value == 25.37
    heaviest = [(r.data["value"], r.data["rows"]) for r in result.metadata["heaviest_keys"].value.records]
    assert heaviest[:2] == [("1", 2300), ("2", 40)]
    assert result.metadata["suggested_distribution"].value == "DISTSTYLE KEY DISTKEY(sessionid)"


def test_unload_writes_where_its_statement_says_and_the_export_reads_that_manifest(tmp_path):
    stage = LocalFolderStage(root=str(tmp_path))
    cluster = RecordedCluster(stage)
    select = "SELECT channel, count(*) AS sessions FROM raw_data.user_session_channel GROUP BY channel ORDER BY channel"
    batch, sql = _warehouse(cluster).export_query("sessions_per_channel", select, stage, "exports/x/run-1", ExportOptions())
    unload = parse_unload(sql)
    assert unload["query"] == select and unload["manifest"] and unload["verbose"] and unload["gzip"]
    # The batch is the manifest UNLOAD wrote (its name is the TO prefix + "manifest"), every part in it.
    assert batch.manifest_url == f"{unload['to']}manifest"
    assert [p.url for p in batch.parts] == [f"{unload['to']}{i:04d}_part_00.gz" for i in range(SLICES)]
    assert batch.columns == ("channel", "sessions")
    assert sum(p.row_count for p in batch.parts) == 3
    read_back = []
    for part in batch.parts:
        with gzip.open(Path(stage.root) / stage.key_for(part.url), "rt") as f:
            read_back += list(csv.reader(f))[1:]
    assert sorted(read_back) == [["Facebook", "909"], ["Google", "909"], ["Naver", "908"]]
