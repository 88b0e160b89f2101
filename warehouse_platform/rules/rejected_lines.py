"""How many rejected log lines a day may have: the rule behind the rejected_lines check."""

from __future__ import annotations

from enum import Enum


class Verdict(str, Enum):
    PASSED = "passed"
    WARN = "warn"  # some lines were rejected: look at them, the rest is loaded
    ERROR = "error"  # more than the declared share: the day's files are broken, the load is held


def judge(rejected: int, lines_read: int, share_limit: float) -> Verdict:
    """WARN above zero rejects, ERROR above `share_limit` of the day's lines (an empty day with
    no rejects passes; one with only rejects is all share)."""
    if rejected == 0:
        return Verdict.PASSED
    share = rejected / lines_read if lines_read else 1.0
    return Verdict.ERROR if share > share_limit else Verdict.WARN
