"""The one scrubber for text that leaves the platform: error messages, displayed SQL, reprs.

Whatever reaches the Dagster event log, compute logs, metadata or a terminal passes through
`scrub` first, so a password inside a connection string, a `password=` key/value (libpq quotes
a malformed DSN in its `invalid dsn` message), a COPY's `CREDENTIALS '...'`, AWS key material
or an AWS access key id is masked as `***`. Ours use IAM roles and EnvVar-bound secrets; this is
the net under every path that could still carry one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

MASK = "***"

_VALUE = r"""(?:'(?:[^'\\]|\\.)*'?|"[^"]*"?|[^\s'",;&@]+)"""
_PATTERNS = [
    # scheme://user:password@host (postgresql://, redshift://, s3 URLs with keys, ...)
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]*:)([^\s@'\"]+)(@)", re.IGNORECASE), rf"\g<1>{MASK}\g<3>"),
    # password=..., password: ..., pwd=..., PGPASSWORD=..., "password":"..."
    (re.compile(rf"""(\b(?:pg)?(?:password|passwd|pwd)["']?\s*[=:]\s*)({_VALUE})""", re.IGNORECASE), None),
    # COPY/UNLOAD key material: CREDENTIALS [AS] '...', ACCESS_KEY_ID '...', SECRET_ACCESS_KEY '...', ...
    (
        re.compile(
            rf"""(\b(?:CREDENTIALS(?:\s+AS)?|ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|MASTER_SYMMETRIC_KEY)\s*=?\s*)({_VALUE})""",
            re.IGNORECASE,
        ),
        None,
    ),
    # aws_access_key_id=...;aws_secret_access_key=...;token=... inside a credentials string
    (re.compile(r"(\baws_(?:access_key_id|secret_access_key|session_token)\s*=\s*)([^\s;'\"]+)", re.IGNORECASE), rf"\g<1>{MASK}"),
    # AWS access key ids, wherever they appear (long-term AKIA..., temporary ASIA...)
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
]


def _masked(match: re.Match) -> str:
    # A quoted value stays quoted, so the statement still reads as SQL.
    value = match.group(2)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group(1)}{quote}{MASK}{quote}"


def scrub(text: str) -> str:
    """`text` with every secret it carries masked; text without secrets comes back unchanged."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(_masked if replacement is None else replacement, text)
    return text


def _rebuilt(error: BaseException, message: str) -> BaseException:
    try:
        return type(error)(message)
    except Exception:  # an exception type that needs more than a message
        return RuntimeError(f"{type(error).__name__}: {message}")


@contextmanager
def secrets_scrubbed() -> Iterator[None]:
    """Re-raise an error whose message carries a secret as the same type with the message
    scrubbed, and without the original attached (a chained cause would be logged too)."""
    try:
        yield
    except Exception as error:
        message = str(error)
        clean = scrub(message)
        if clean == message:
            raise
        raise _rebuilt(error, clean) from None
