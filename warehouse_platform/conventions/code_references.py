"""Code references: every asset's page links to the code that defines it, in the repository's
web view when a git remote is known (else to the local file), so a reviewer goes from the UI
straight to the definition."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
from dagster_shared.record import copy

from warehouse_platform.conventions.git_remote import browse_url

# warehouse_platform/: the anchor that maps local files to their place in the repository.
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(PACKAGE_DIR), *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def git_location() -> tuple[str, str] | None:
    """(web URL of the repository, branch) to link to: PLATFORM_GIT_URL / PLATFORM_GIT_BRANCH
    (an image has no .git), else the checkout's `origin` and current branch; None when neither
    is known (a checkout without a remote): the references then stay local paths."""
    remote = os.environ.get("PLATFORM_GIT_URL") or _git("remote", "get-url", "origin")
    url = browse_url(remote) if remote else None
    if url is None:
        return None
    branch = os.environ.get("PLATFORM_GIT_BRANCH") or _git("rev-parse", "--abbrev-ref", "HEAD") or "main"
    return url, branch


def with_code_references(defs: dg.Definitions) -> dg.Definitions:
    assets = dg.with_source_code_references(list(defs.assets or []))
    if (location := git_location()) is not None:
        url, branch = location
        assets = dg.link_code_references_to_git(
            assets, git_url=url, git_branch=branch,
            file_path_mapping=dg.AnchorBasedFilePathMapping(
                local_file_anchor=PACKAGE_DIR / "__init__.py",
                file_anchor_path_in_repository="warehouse_platform/__init__.py",
            ),
        )
    return copy(defs, assets=assets)


def with_catalog_entry_references(defs: dg.Definitions, catalog: Path, lines: Mapping[dg.AssetKey, int]) -> dg.Definitions:
    """Each asset a catalog entry declares links to that entry's own line in the catalog (put
    first: it is what a reviewer opens), before the Python that builds it."""

    def link(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.key not in lines:
            return spec
        existing = spec.metadata.get("dagster/code_references")
        entry = dg.LocalFileCodeReference(file_path=str(catalog), line_number=lines[spec.key], label="catalog entry")
        references = [entry, *(existing.code_references if existing else [])]
        return spec.replace_attributes(
            metadata={**spec.metadata, "dagster/code_references": dg.CodeReferencesMetadataValue(code_references=references)}
        )

    return copy(defs, assets=dg.map_asset_specs(link, list(defs.assets or [])))
