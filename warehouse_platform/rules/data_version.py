"""A raw table's data version: what the load ledger holds, not when it was last touched."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def files_version(checksums: Iterable[str]) -> str:
    """Hash of the sorted checksums of a day's files. After a successful load the ledger's
    active files are exactly the batch's files, so the batch's checksums give the version: a
    re-run of an already-loaded day keeps it; any changed file changes it."""
    return hashlib.sha256("\n".join(sorted(checksums)).encode()).hexdigest()[:24]
