"""Landed bytes -> lines (logs/landed_lines.py), then through the real DuckDB structuring SQL:
whatever a line's bytes, it is a row or a reject at its file and line, and a bad file is its
own rejects. Reject reasons are one list (logs/reject_reasons.py), which docs/logs.md shows."""

import gzip
import json
import tracemalloc
from pathlib import Path

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse_platform.catalog import table
from warehouse_platform.logs import structuring_sql as sql
from warehouse_platform.logs.landed_lines import landed_pieces, text_chunks
from warehouse_platform.logs.reject_reasons import REJECT_TEXT_CHARS, RejectReason

APP_EVENTS = table("app_events")
ACCESS_LOG = table("access_log")
NAME = "landing/logs/app_events/day=2026-11-03/a.jsonl"
GOOD = '{"event_id":"e%d","event":"page_view","user_id":7,"ts":"2026-11-03T01:00:00Z","properties":{"page":"/a"}}'


def _pieces(data: bytes, *, chunk: int = 1 << 16, piece_bytes: int = 1 << 20, max_line_bytes: int = 1 << 20):
    def chunks():
        for i in range(0, len(data), chunk):
            yield data[i : i + chunk]

    return list(landed_pieces(chunks, piece_bytes=piece_bytes, max_line_bytes=max_line_bytes))


def _structure(spec, pieces, tmp_path: Path, name: str = NAME):
    """Rows (their landed_line) and rejects (line, reason, text) as the step's DuckDB finds them."""
    files = []
    for i, (data, before) in enumerate(pieces):
        path = tmp_path / f"piece-{i}.txt"
        path.write_bytes(data)
        files.append((str(path), name, before))
    if not files:
        (tmp_path / "empty.txt").write_bytes(b"")
        files = [(str(tmp_path / "empty.txt"), name, 0)]
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(sql.landed_lines_sql(files))
        con.execute(sql.structure_sql(spec))
        [(lines,)] = con.execute(sql.line_count_sql()).fetchall()
        rows = con.execute(f"SELECT line_number FROM {sql.STRUCTURED_TABLE} WHERE reason IS NULL ORDER BY 1").fetchall()
        rejects = [(n, reason, text) for _, n, reason, text in con.execute(sql.rejected_lines_sql()).fetchall()]
    finally:
        con.close()
    return lines, [n for (n,) in rows], rejects


def _kinds(rejects):
    return [(n, RejectReason.of(reason)) for n, reason, _ in rejects]


def test_a_line_that_is_not_utf8_or_holds_a_nul_is_a_reject_at_its_line_and_every_other_line_is_a_row(tmp_path):
    data = b"\n".join([
        (GOOD % 1).encode(),
        (GOOD % 2).replace("/a", "/caf\xe9").encode("latin-1"),  # Latin-1 bytes: not UTF-8
        (GOOD % 3).replace("/a", "/a\x00b").encode(),  # a raw NUL
        (GOOD % 4).replace("/a", "/한국어").encode(),  # UTF-8 beyond ASCII: fine
    ]) + b"\n"
    lines, rows, rejects = _structure(APP_EVENTS, _pieces(data), tmp_path)
    assert (lines, rows) == (4, [1, 4])
    assert _kinds(rejects) == [(2, RejectReason.NOT_UTF8), (3, RejectReason.NUL_BYTE)]
    at = (GOOD % 2).index("/a") + len("/caf") + 1
    assert rejects[0][1] == f"not UTF-8: byte 0xe9 at byte {at}" and "/caf\\xe9" in rejects[0][2]
    assert "/a\\x00b" in rejects[1][2]


def test_a_byte_order_mark_is_dropped_at_the_start_of_a_file_only(tmp_path):
    data = b"\xef\xbb\xbf" + (GOOD % 1).encode() + b"\n\xef\xbb\xbf" + (GOOD % 2).encode() + b"\n"
    lines, rows, rejects = _structure(APP_EVENTS, _pieces(data, chunk=2), tmp_path)  # the mark split across reads
    assert (lines, rows) == (2, [1])
    assert _kinds(rejects) == [(2, RejectReason.NOT_JSON_OBJECT)]  # inside a file the mark is text: not JSON


def test_a_line_over_max_line_bytes_is_one_reject_with_its_first_characters_and_memory_stays_bounded(tmp_path):
    long_line_bytes = 64 << 20

    def chunks():
        yield (GOOD % 1).encode() + b"\n" + b'{"event_id":"' + "가".encode() * 2000
        block = b"x" * (1 << 20)
        for _ in range(long_line_bytes >> 20):
            yield block
        yield b'"}\n' + (GOOD % 3).encode() + b"\n"

    tracemalloc.start()
    try:
        pieces = list(landed_pieces(chunks, piece_bytes=1 << 20, max_line_bytes=1 << 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak:,} bytes held for a {long_line_bytes:,}-byte line"
    lines, rows, rejects = _structure(APP_EVENTS, pieces, tmp_path)
    assert (lines, rows) == (3, [1, 3])
    [(line, reason, text)] = rejects
    assert (line, RejectReason.of(reason)) == (2, RejectReason.TOO_LONG)
    assert f"{long_line_bytes + 13 + 6000 + 2:,} bytes" in reason
    assert text == '{"event_id":"' + "가" * (REJECT_TEXT_CHARS - 13)


def test_a_truncated_gzip_keeps_its_complete_lines_and_rejects_the_break_at_its_line(tmp_path):
    whole = gzip.compress(b"".join((GOOD % i).encode() + b"\n" for i in range(1, 2001)), mtime=0)
    cut = whole[: len(whole) * 2 // 3]
    lines, rows, rejects = _structure(APP_EVENTS, _pieces(cut, chunk=4096), tmp_path)
    [(line, reason, _)] = rejects
    assert RejectReason.of(reason) == RejectReason.BROKEN_STREAM and "truncated gzip" in reason
    assert rows == list(range(1, line)) and lines == line  # every complete line before the break, the break last
    assert 1000 < line < 2000


def test_gzip_is_read_by_its_bytes_and_concatenated_members_are_one_file(tmp_path):
    plain = b"".join((GOOD % i).encode() + b"\n" for i in range(1, 4))
    assert b"".join(text_chunks([plain])) == plain  # a .gz name holding plain text: read as it is
    members = gzip.compress(plain[:50], mtime=0) + gzip.compress(plain[50:], mtime=0)
    assert b"".join(text_chunks([members[i : i + 7] for i in range(0, len(members), 7)])) == plain
    lines, rows, rejects = _structure(APP_EVENTS, _pieces(members, chunk=7), tmp_path)
    assert (lines, rows, rejects) == (3, [1, 2, 3], [])


def test_a_file_that_cannot_be_read_is_one_reject_naming_why_at_the_line_reading_stopped(tmp_path):
    def missing():
        raise FileNotFoundError("landing/logs/app_events/day=2026-11-03/gone.jsonl")

    lines, rows, rejects = _structure(APP_EVENTS, list(landed_pieces(missing, piece_bytes=1 << 20, max_line_bytes=1 << 20)), tmp_path)
    assert (lines, rows) == (1, [])
    assert [(n, reason) for n, reason, _ in rejects] == [(1, "unreadable file: FileNotFoundError: landing/logs/app_events/day=2026-11-03/gone.jsonl")]

    def breaks_after_two_lines():
        yield ((GOOD % 1) + "\n" + (GOOD % 2) + "\n" + (GOOD % 3)[:20]).encode()
        raise ConnectionResetError("the connection was reset\nmid-read")

    lines, rows, rejects = _structure(
        APP_EVENTS, list(landed_pieces(breaks_after_two_lines, piece_bytes=1 << 20, max_line_bytes=1 << 20)), tmp_path,
    )
    assert (lines, rows) == (3, [1, 2])
    assert [(n, reason, text) for n, reason, text in rejects] == [
        (3, "unreadable file: ConnectionResetError: the connection was reset mid-read", (GOOD % 3)[:20]),
    ]


def test_a_folder_stage_file_that_cannot_be_read_is_still_listed_with_a_version():
    """So its day is staged and the file is one reject, not a listing that fails for every file
    (/proc/self/mem: a regular file whose read fails with EIO, even for root)."""
    from warehouse_platform.stage.storage import content_version

    assert content_version(Path("/proc/self/mem")).startswith("unreadable-")


def test_pieces_end_at_line_ends_and_count_the_lines_before_them():
    data = b"".join((GOOD % i).encode() + b"\n" for i in range(1, 501))
    pieces = _pieces(data, chunk=1000, piece_bytes=4096)
    assert len(pieces) > 5 and b"".join(p for p, _ in pieces) == data
    assert all(p.endswith(b"\n") for p, _ in pieces)
    assert [before for _, before in pieces] == [sum(p.count(b"\n") for p, _ in pieces[:i]) for i in range(len(pieces))]


def test_every_reject_reason_is_listed_in_the_logs_page():
    page = (Path(__file__).parents[1] / "docs" / "logs.md").read_text()
    missing = [r.phrase for r in RejectReason if f"`{r.phrase}`" not in page]
    assert missing == [], "docs/logs.md lists every reject reason's phrase (in backquotes)"


# Lines made of JSON-ish pieces and hostile bytes: any byte string becomes a row or a reject.
_HOSTILE = st.sampled_from([
    b"\x00", b"\xff", b"\xc3", b"\xe9", b"\xef\xbb\xbf", b"\r", b"\\u0000", b'\\"', b'"', b"{", b"}", b":", b",",
    b'"event_id"', b'"e1"', b'"user_id"', b"1.5", b"7", b'"ts"', b'"2026-11-03T01:00:00Z"', "한".encode(), b" ",
])
_LINE = st.one_of(
    st.binary(max_size=80),
    st.lists(_HOSTILE, max_size=12).map(b"".join),
    st.integers(1, 9).map(lambda i: (GOOD % i).encode()),
    st.tuples(st.integers(1, 9), _HOSTILE).map(lambda t: (GOOD % t[0]).replace("/a", "/").encode().replace(b"/", t[1], 1)),
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(lines=st.lists(_LINE.map(lambda b: b.replace(b"\n", b"")), max_size=12), gz=st.booleans(), chunk=st.integers(1, 64))
def test_any_bytes_in_a_line_become_a_row_or_a_reject_and_lines_read_equal_rows_plus_rejects(tmp_path_factory, lines, gz, chunk):
    data = b"".join(line + b"\n" for line in lines)
    if gz:
        data = gzip.compress(data, mtime=0)
    tmp = tmp_path_factory.mktemp("hostile")
    for spec in (APP_EVENTS, ACCESS_LOG):
        read, rows, rejects = _structure(spec, _pieces(data, chunk=chunk, max_line_bytes=1024), tmp)
        assert read == len(lines) and sorted(rows + [n for n, _, _ in rejects]) == list(range(1, len(lines) + 1))
        for _, reason, text in rejects:
            RejectReason.of(reason)  # every reason is one of the list's
            json.dumps(text)
