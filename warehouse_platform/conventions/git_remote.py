"""A git remote as the web address code references link to."""

from __future__ import annotations

import re

_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>[^/].*)$")


def browse_url(remote: str) -> str | None:
    """git@github.com:org/repo.git or https://github.com/org/repo.git -> https://github.com/org/repo;
    None for what has no web view (a local path, file://)."""
    remote = remote.strip()
    if remote.startswith(("https://", "http://", "ssh://")):
        rest = remote.split("://", 1)[1]
        host, _, path = rest.partition("/")
        host = host.rsplit("@", 1)[-1].split(":")[0]
    elif (m := _SCP_LIKE.match(remote)) and "/" not in m.group("host"):
        host, path = m.group("host"), m.group("path")
    else:
        return None
    path = path.removesuffix("/").removesuffix(".git")
    return f"https://{host}/{path}" if host and path else None
