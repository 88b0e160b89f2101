"""bench.json, written by every benchmark (`make bench`, `make bench-logs`, `make bench-history`, ...),
and the figures a benchmark reports from repeated runs. Plain functions, no Dagster.

Each tool owns its own sections of bench.json ("results", "logs", "history", ...): writing one
never drops another's, so a report can be assembled from several commands run at different times.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def write_sections(output: Path, sections: Mapping[str, object]) -> dict:
    """Sets `sections` in the report at `output`, keeping every other section as it is, and
    returns the whole report. The file is replaced in one rename, so a reader (or a tool writing
    its own section at the same moment) never sees half a file."""
    output = Path(output)
    report = json.loads(output.read_text()) if output.exists() else {}
    report.update(sections)
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as f:
            f.write(json.dumps(report, indent=2) + "\n")
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return report


def summarize(samples: Sequence[float], digits: int = 3) -> dict:
    """The median of repeated timings, with their spread: one run is not a measurement on a
    machine whose load moves (the same pipe took 6.6 s and 9.5 s on two quiet runs), so every
    figure a benchmark prints is a median, and the spread says how far to trust it."""
    if not samples:
        raise ValueError("no samples to summarize")
    median = statistics.median(samples)
    low, high = min(samples), max(samples)
    return {
        "median": round(median, digits), "min": round(low, digits), "max": round(high, digits),
        # (max - min) / median: 0.10 means the runs were within 10% of the median's size.
        "spread": round((high - low) / median, 3) if median else 0.0,
        "runs": len(samples),
    }


def ratio_of_medians(contender_median_s: float, floor_median_s: float) -> float:
    """How fast a contender is against its floor, as the floor's median time over the
    contender's (1.0 = as fast as the floor, above 1 faster). Both medians come from the same
    benchmark run, taken in turn, so a change in the machine's load weighs on both alike."""
    return round(floor_median_s / contender_median_s, 2)
