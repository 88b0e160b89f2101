"""The one scrubber for text that leaves the platform: error messages, displayed SQL, reprs.

Whatever reaches the Dagster event log, compute logs, metadata or a terminal passes through
`scrub` first. Two nets:
- by value: every secret the environment configures (the DSN variables, their password
  components however malformed, REDSHIFT_PASSWORD, the AWS secret key and session token,
  DAGSTER_PG_PASSWORD) is masked wherever it appears, whatever the syntax around it: a
  mistyped DSN (`postgresql:/user:password@host`) matches no pattern, but its value is known;
- by pattern: a password inside a connection string, a `password=` key/value (libpq quotes a
  malformed DSN in its `invalid dsn` message), a COPY's `CREDENTIALS '...'`, AWS key material
  or an AWS access key id, for secrets the environment does not name.
Each is masked as `***`. Ours use IAM roles and EnvVar-bound secrets; this is the net under
every path that could still carry one.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, quote_plus, unquote

MASK = "***"

# Variables whose values are secrets, or may carry one (a DSN's password).
DSN_VARIABLES = ("PLATFORM_WAREHOUSE_DSN", "PLATFORM_SOURCE_DSN", "PLATFORM_DAGSTER_STORAGE_URL")
SECRET_VARIABLES = (*DSN_VARIABLES, "REDSHIFT_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DAGSTER_PG_PASSWORD")
# A shorter value cannot be told from ordinary words (a local MinIO's or a test's secret key is
# `test`): masking it everywhere would garble paths and messages, so it is left to the patterns.
MIN_SECRET_LENGTH = 6

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

# A URL-like DSN's scheme, however many slashes were typed (none, one, two): `postgresql:/`.
_SCHEME = re.compile(r"^(?:jdbc:)?(?:[a-z][a-z0-9+.-]*:/+|(?:postgres|postgresql|redshift):)", re.IGNORECASE)
# key=value DSNs (and a colon typed for "="), quoted or not; a URL's ?password=...&.
_KEYED_PASSWORD = re.compile(
    r"""\b(?:pg)?(?:password|passwd|pwd)\s*[=:]\s*(?:'((?:[^'\\]|\\.)*)'?|"([^"]*)"?|([^\s'"]+))""", re.IGNORECASE
)


def password_components(value: str) -> set[str]:
    """The passwords a DSN-like value carries, however malformed: the user info of a URL with
    any number of slashes after its scheme, or none (up to the last `@`, so a password may hold
    `@`, `:` or `/`), and every `password=` / `password:` value, quoted or not."""
    found: set[str] = set()
    if "@" in value:
        user_info = _SCHEME.sub("", value.rsplit("@", 1)[0], count=1)
        if ":" in user_info and not any(c.isspace() for c in user_info):
            found.add(user_info.split(":", 1)[1])
    for match in _KEYED_PASSWORD.finditer(value):
        quoted, double_quoted, bare = match.groups()
        if quoted is not None:
            found.update({quoted, re.sub(r"\\(.)", r"\1", quoted)})  # as written, and as libpq reads it
        elif double_quoted is not None:
            found.add(double_quoted)
        else:
            found.update({bare, bare.split("&", 1)[0]})  # a URL's query parameter ends at `&`
    return found


def _spellings(secret: str) -> set[str]:
    # As configured, decoded (a URL's %40 is an @ to libpq) and encoded, as messages may show it.
    return {secret, unquote(secret), quote(secret, safe=""), quote(secret), quote_plus(secret)}


@functools.lru_cache(maxsize=8)
def _known_secrets(values: tuple[tuple[str, str], ...]) -> re.Pattern | None:
    """One alternation of every configured secret's spellings, longest first (a DSN before the
    password inside it); None when nothing is configured."""
    secrets: set[str] = set()
    for name, value in values:
        value = value.strip()
        secrets.add(value)
        secrets.update(password_components(value))
    spellings = {s for secret in secrets for s in _spellings(secret) if len(s) >= MIN_SECRET_LENGTH}
    if not spellings:
        return None
    return re.compile("|".join(re.escape(s) for s in sorted(spellings, key=len, reverse=True)))


def _configured_secrets() -> re.Pattern | None:
    # Read on every call (a process may set them after import: the CLI, a test), compiled once
    # per set of values.
    return _known_secrets(tuple((name, os.environ[name]) for name in SECRET_VARIABLES if os.environ.get(name)))


def _masked(match: re.Match) -> str:
    # A quoted value stays quoted, so the statement still reads as SQL.
    value = match.group(2)
    mark = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group(1)}{mark}{MASK}{mark}"


def scrub(text: str) -> str:
    """`text` with every secret it carries masked; text without secrets comes back unchanged."""
    # Known values first: a pattern could mask only the start of a password holding `@`, and
    # the rest would no longer match the value.
    if (known := _configured_secrets()) is not None:
        text = known.sub(MASK, text)
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
