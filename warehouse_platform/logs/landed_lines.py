"""A landed file's bytes -> text the structuring SQL reads, whatever the bytes are.

DuckDB's read_text refuses a whole file for one byte that is not UTF-8, keeps a NUL, holds a
line whole however long it is, and a gzip reader loses the lines before a break. So the bytes
pass through here first, in bulk (a block at a time; a line at a time only in a block that
holds a problem): every line comes out either as it landed or, if its bytes cannot be a row,
as one *refused* line at the same line number: REFUSED_MARK reason REFUSED_MARK text (its
first characters, bad bytes shown as \\xNN), which the SQL turns into a reject
(logs/structuring_sql.py). Line numbers never shift, so lines read = rows + rejects.

- gzip is decided by the bytes (magic 1f 8b), not the name; members are read one after the
  other; a stream that breaks (truncated, corrupt) keeps the complete lines before the break
  and the break is a reject at its line;
- a file that cannot be read is one reject at the line where reading stopped (line 1: at all);
- a UTF-8 byte-order mark at the start of a file is dropped;
- a line longer than max_line_bytes is skipped as it streams (memory stays bounded by
  max_line_bytes plus a read), keeping only what its reject shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain

from warehouse_platform.logs.reject_reasons import REFUSED_MARK, REJECT_TEXT_CHARS, RejectReason

GZIP_MAGIC = b"\x1f\x8b"
BYTE_ORDER_MARK = b"\xef\xbb\xbf"
# Enough bytes to show REJECT_TEXT_CHARS characters of any UTF-8 line.
_PREVIEW_BYTES = 4 * REJECT_TEXT_CHARS
# Gunzipped output per step: a small gzip member can expand a thousandfold.
_GUNZIP_OUT_BYTES = 1 << 20
_MARK = REFUSED_MARK.encode()


class BrokenStream(Exception):
    """The file's gzip stream ends or breaks before its end."""


def text_chunks(raw: Iterable[bytes]) -> Iterator[bytes]:
    """The file's text: gunzipped when its bytes are gzip, whatever its name says."""
    raw = iter(raw)
    first = b""
    for chunk in raw:
        first += chunk
        if len(first) >= len(GZIP_MAGIC):
            break
    if first.startswith(GZIP_MAGIC):
        yield from _gunzip(chain([first], raw))
    else:
        if first:
            yield first
        yield from raw


def _gunzip(raw: Iterator[bytes]) -> Iterator[bytes]:
    # ISA-L's zlib, as everywhere the platform reads gzip (a third of zlib's CPU); imported here
    # so that this module stays importable without it in pure tests.
    from isal import isal_zlib

    decompressor = isal_zlib.decompressobj(wbits=31)
    in_member = False
    try:
        for chunk in raw:
            data = chunk
            while data:
                in_member = True
                out = decompressor.decompress(data, _GUNZIP_OUT_BYTES)
                if out:
                    yield out
                if decompressor.eof:  # a member ended: another may follow (concatenated gzip)
                    data = decompressor.unused_data
                    decompressor, in_member = isal_zlib.decompressobj(wbits=31), False
                else:
                    data = decompressor.unconsumed_tail
        if in_member:
            while out := decompressor.decompress(b"", _GUNZIP_OUT_BYTES):
                yield out
            if not decompressor.eof:
                raise BrokenStream("truncated gzip: the stream ends before its end marker")
    except isal_zlib.error as error:
        raise BrokenStream(f"corrupt gzip: {error}") from None


def _preview(line: bytes) -> str:
    text = line[:_PREVIEW_BYTES].decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")
    return text[:REJECT_TEXT_CHARS]


def refused_line(reason: str, line: bytes) -> bytes:
    """The line as the SQL reads a line refused by its bytes (the reason's text holds no NUL)."""
    one_line = reason.replace(REFUSED_MARK, "").replace("\n", " ").replace("\r", " ")
    return _MARK + one_line.encode() + _MARK + _preview(line).encode()


def _line_problem(line: bytes, max_line_bytes: int) -> str | None:
    """Why a line's bytes cannot be a row (the reason's text), or None."""
    if len(line) > max_line_bytes:
        return RejectReason.TOO_LONG.line_reason(f"{len(line):,} bytes, the limit is {max_line_bytes:,}")
    if (at := line.find(b"\x00")) >= 0:
        return RejectReason.NUL_BYTE.line_reason(f"at byte {at + 1}")
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as error:
        return RejectReason.NOT_UTF8.line_reason(f"byte 0x{line[error.start]:02x} at byte {error.start + 1}")
    return None


def _may_hold_a_problem(block: bytes, max_line_bytes: int) -> bool:
    """False when no line of the block (complete lines) can be refused; True sends it line by
    line. Bulk tests: a NUL, any non-ASCII byte that is not valid UTF-8, and a run of half the
    limit without a line end (every line over the limit holds such a run at a multiple of it)."""
    if b"\x00" in block:
        return True
    if not block.isascii():
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            return True
    if len(block) > max_line_bytes:
        half = max(1, max_line_bytes // 2)
        return any(block.find(b"\n", i, i + half) < 0 for i in range(0, len(block) - half + 1, half))
    return False


def landed_pieces(
    open_chunks: Callable[[], Iterable[bytes]], *, piece_bytes: int, max_line_bytes: int,
) -> Iterator[tuple[bytes, int]]:
    """The file's lines as pieces of about piece_bytes, cut at line ends, each ending with a
    line end, with the number of lines before it. `open_chunks` opens the landed file and
    returns its bytes in chunks; any error it raises, opening or reading, ends the file with a
    reject at the line reading stopped at (see the module's docstring)."""
    out = bytearray()
    before = emitted = 0
    carry = b""
    start = True  # a byte-order mark is dropped from the file's first bytes only
    long_line: bytes | None = None  # the first bytes of a line over the limit, while skipping it
    long_length = 0

    def add_lines(block: bytes) -> None:
        nonlocal emitted
        if not _may_hold_a_problem(block, max_line_bytes):
            out.extend(block)
            emitted += block.count(b"\n")
            return
        for line in block.split(b"\n")[:-1]:
            problem = _line_problem(line, max_line_bytes)
            out.extend(line if problem is None else refused_line(problem, line))
            out.extend(b"\n")
            emitted += 1

    def add_refused(reason: str, line: bytes) -> None:
        nonlocal emitted
        out.extend(refused_line(reason, line) + b"\n")
        emitted += 1

    def too_long() -> str:
        return RejectReason.TOO_LONG.line_reason(f"{long_length:,} bytes, the limit is {max_line_bytes:,}")

    try:
        for chunk in text_chunks(open_chunks()):
            if long_line is not None:  # skipping a line over the limit up to its end
                end = chunk.find(b"\n")
                if end < 0:
                    long_length += len(chunk)
                    continue
                long_length += end
                add_refused(too_long(), long_line)
                long_line, chunk = None, chunk[end + 1:]
            data = carry + chunk
            if start:
                if len(data) < len(BYTE_ORDER_MARK) and BYTE_ORDER_MARK.startswith(data):
                    carry = data  # may yet be a mark: read on
                    continue
                data, start = data.removeprefix(BYTE_ORDER_MARK), False
            cut = data.rfind(b"\n") + 1
            if cut:
                add_lines(data[:cut])
            carry = data[cut:]
            if len(carry) > max_line_bytes:
                long_line, long_length, carry = carry[:_PREVIEW_BYTES], len(carry), b""
            if len(out) >= piece_bytes:
                yield bytes(out), before
                out.clear()
                before = emitted
    except Exception as error:  # noqa: BLE001 - whatever stops the reading is this file's reject, at its line
        if isinstance(error, BrokenStream):
            reason = RejectReason.BROKEN_STREAM.line_reason(str(error))
        else:
            reason = RejectReason.UNREADABLE_FILE.line_reason(f"{type(error).__name__}: {error}")
        add_refused(reason, long_line if long_line is not None else carry)
    else:
        if long_line is not None:
            add_refused(too_long(), long_line)
        elif carry:
            add_lines(carry + b"\n")  # the last line, without a line end
    if out:
        yield bytes(out), before
