"""Identifiers: what a declared name may be, and the one rule for names the platform derives.

Declared names (tables, columns) are lower case. Redshift folds unquoted identifiers to lower
case (and compares quoted ones case-insensitively unless `enable_case_sensitive_identifier` is
set), Postgres folds unquoted ones the same way, and analysts type them unquoted in SQL and dbt:
a mixed-case name would be one table to the loader, which quotes it, and another to everyone
else. So mixed case is refused with that reason rather than quoted in some places and folded in
others.

Postgres cuts every identifier at 63 bytes (NAMEDATALEN - 1; Redshift allows 127), silently: two
names that differ only after byte 63 become one table. A declared name is refused beyond 63
bytes; a name the platform derives from one (a day's partition table, a load table, the staging
table) is fitted into 63 bytes by `fit_identifier`, which replaces the end of a long stem with a
short hash of the whole stem, so derived names stay distinct.
"""

from __future__ import annotations

import hashlib
import re

MAX_IDENTIFIER_BYTES = 63
# A standard identifier (the same in both dialects): a letter, underscore or non-ASCII character,
# then those, digits or $. Upper case is refused separately, with its own reason.
_STANDARD = re.compile(r"^[^\W\d][\w$]*$")
# A table's name also names its Dagster assets' ops (`raw_data__<name>`), which take ASCII letters,
# digits and _ only.
_TABLE = re.compile(r"^[a-z_][a-z0-9_]*$")
_HASH_CHARS = 8


def identifier_problem(name: str, table: bool = False) -> str | None:
    """Why `name` cannot be a declared column name (with `table`, a table name), or None."""
    if not name:
        return "a name is not empty"
    if name != name.lower():
        return (
            f"{name!r} has upper case: Redshift and Postgres fold unquoted names to lower case, so SQL and dbt "
            f"written by hand would not find it; write it as {name.lower()!r}"
        )
    if not _STANDARD.match(name):
        return f"{name!r} is not a plain identifier (a letter or _ first, then letters, digits, _ or $)"
    if table and not _TABLE.match(name):
        return f"{name!r}: a table name is ASCII letters, digits and _ (it also names the table's Dagster ops)"
    if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        return f"{name!r} is {len(name.encode('utf-8'))} bytes; a name is at most {MAX_IDENTIFIER_BYTES} bytes (Postgres cuts longer ones)"
    return None


def fit_identifier(stem: str, suffix: str = "", prefix: str = "") -> str:
    """prefix + stem + suffix if that is within 63 bytes of UTF-8; otherwise the stem is cut (on a
    character boundary) and followed by `_` and a hash of the whole stem, so two long stems that
    share their first bytes still give two names. The prefix and suffix (the platform's own marks,
    e.g. a day) are kept whole: code that reads them back (a load table's id) still finds them."""
    whole = f"{prefix}{stem}{suffix}"
    if len(whole.encode("utf-8")) <= MAX_IDENTIFIER_BYTES:
        return whole
    tag = "_" + hashlib.sha256(stem.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    budget = MAX_IDENTIFIER_BYTES - len(f"{prefix}{suffix}{tag}".encode("utf-8"))
    if budget < 1:
        raise ValueError(f"no room for {stem!r} between {prefix!r} and {suffix!r} in {MAX_IDENTIFIER_BYTES} bytes")
    cut = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    return f"{prefix}{cut}{tag}{suffix}"
