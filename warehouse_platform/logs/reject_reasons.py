"""Why a landed log line is a reject: the one list, used by the line reader (bytes), the
structuring SQL (values), the tests and docs/logs.md (which lists every phrase below).

A reject's `reason` is the phrase, completed where the phrase says so: a line-level reason
is `<phrase>` or `<phrase>: <detail>`; a column-level reason is `<column> (<source>): ...` with
the phrase in it (e.g. `userid ($.user_id): 1.5 is a number with a fraction for int`). A test
finds a reason's kind by its phrase (`RejectReason.of`), never by a copy of the text.
"""

from __future__ import annotations

from enum import Enum


class RejectReason(Enum):
    # value: (phrase, what it means; docs/logs.md lists both)
    # -- found in the bytes, before any parsing (logs/landed_lines.py) ------------------------
    UNREADABLE_FILE = ("unreadable file", "the file could not be opened or read; one reject at the line where reading stopped (line 1: not at all)")
    BROKEN_STREAM = ("the file ends mid-stream", "a gzip stream truncated or corrupt: the complete lines before the break are kept, the break is a reject at its line")
    NOT_UTF8 = ("not UTF-8", "a byte that is not UTF-8 text")
    NUL_BYTE = ("a NUL byte", "a raw NUL (0x00) byte, which no warehouse text holds")
    TOO_LONG = ("longer than max_line_bytes", "the line is longer than the table's structuring.max_line_bytes (default 1 MiB); the reject keeps its first 1,000 characters")
    # -- found by the structuring SQL (logs/structuring_sql.py) --------------------------------
    EMPTY = ("empty line", "a line with nothing on it")
    NOT_JSON_OBJECT = ("not a JSON object (malformed or truncated JSON)", "JSON lines: the line is not one JSON object")
    DUPLICATE_KEY = ("a key repeated in one JSON object", "JSON lines: the line, or an object a json/super column keeps whole, names a key twice (which copy wins differs by reader)")
    NUL_ESCAPE = ("a \\u0000 in a JSON string", "JSON lines: an escaped NUL, which warehouse text and JSONB refuse")
    NOT_COMBINED_LOG = ("does not match the combined log format", "access logs: the line is not in the combined log format")
    MISSING = ("missing", "a NOT NULL column's value is absent")
    FRACTION = ("is a number with a fraction for", "an integer column's value has a fraction (1.5 is never rounded)")
    WRONG_TYPE = ("is not", "the value does not convert to the column's type, a time has no offset or is not in the log's format, or a number is out of the type's range")
    TOO_WIDE = ("bytes exceed", "a text value wider, in UTF-8 bytes, than its varchar(n)")

    @property
    def phrase(self) -> str:
        return self.value[0]

    @property
    def meaning(self) -> str:
        return self.value[1]

    def line_reason(self, detail: str = "") -> str:
        """The reason of a line-level reject: the phrase, and a detail if any."""
        return f"{self.phrase}: {detail}" if detail else self.phrase

    @classmethod
    def of(cls, reason: str) -> RejectReason:
        """The kind of a reject's reason text (the most specific phrase it holds)."""
        for member in cls:
            if member not in _COLUMN_REASONS and (reason == member.phrase or reason.startswith(member.phrase + ": ")):
                return member
        column_part = reason.split("): ", 1)[1] if "): " in reason else ""
        for member in _COLUMN_REASONS:  # most specific first
            if column_part == member.phrase or f" {member.phrase} " in f" {column_part} ":
                return member
        raise ValueError(f"not a reject reason: {reason!r}")


# Reasons about one column's value: `<column> (<source>): ...`; the others are about the line.
_COLUMN_REASONS = (RejectReason.MISSING, RejectReason.FRACTION, RejectReason.TOO_WIDE, RejectReason.WRONG_TYPE)

# A reject keeps this many characters of its line.
REJECT_TEXT_CHARS = 1000
# Marks a line the reader refused by its bytes (logs/landed_lines.py): MARK reason MARK text. No
# line that reaches the SQL otherwise holds it, as a raw NUL is itself a reject.
REFUSED_MARK = "\x00"
