"""Dagster features this platform uses on purpose although Dagster still marks them beta or
preview, and so the warnings they raise are silenced: each one by its exact message, with why it
was chosen. Any other Beta/Preview/Supersession warning still shows: it is a feature nobody
chose yet. Imported (for its filters) by the code location (definitions.py) and the CLI; the
run workers load the code location, so they get the filters too."""

from __future__ import annotations

import re
import warnings

from dagster_shared.utils.warnings import BetaWarning, PreviewWarning

# (category, the start of the exact message, why the feature is used).
CHOSEN: tuple[tuple[type[Warning], str, str], ...] = (
    (PreviewWarning, "Specifying a partitions_def on an AssetCheckSpec",
     "checks of daily tables run and report per day, with the day they check (quality/checks.py)"),
    (BetaWarning, "Parameter `backfill_policy` of function `asset`",
     "a backfill runs one day per run, so a failed day is retried alone (partitions.one_day_per_run)"),
    (BetaWarning, "Parameter `data_version` of initializer `Output.__init__`",
     "a raw load's data version is its files' checksums, so reloading the same files is not new data"),
    (BetaWarning, "Parameter `execution_type` of function `AssetsDefinition.__init__`",
     "raised inside Dagster as it resolves our @asset_check definitions (repository_data.py); we pass no such parameter"),
    # Code references: every asset page links to its definition (conventions/code_references.py).
    (BetaWarning, "Function `with_source_code_references`", "asset pages link to the code defining them"),
    (BetaWarning, "Function `link_code_references_to_git`", "those links open the repository's web view"),
    (BetaWarning, "Class `AnchorBasedFilePathMapping`", "maps the checkout's files to the repository's paths"),
    (BetaWarning, "Class `CodeReferencesMetadataValue`", "the metadata value the code references are"),
    (BetaWarning, "Class `LocalFileCodeReference`", "a code reference before it is linked to git"),
    (BetaWarning, "Class `UrlCodeReference`", "a code reference linked to git"),
)


def install() -> None:
    for category, message, _why in CHOSEN:
        warnings.filterwarnings("ignore", message=re.escape(message), category=category)


install()
