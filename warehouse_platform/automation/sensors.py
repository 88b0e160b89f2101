"""Landing sensor: files other systems drop under landing/<table>/ are loaded without anyone
at the keyboard, through the same stage -> load path, ledger and checks as extracted days.

Each tick lists landing/ (folder or S3, one code path through the Stage resource), keeps the
objects not seen before (see lib/landing.py for the cursor), and asks for one run per table and
day covering every file then present for that table and day (a day's content is all its landed
files, so a second file adds to the first instead of replacing it). Run keys are derived from
the files and their ETags: a repeated tick never loads a file twice.
"""

from collections import defaultdict

import dagster as dg

from warehouse_platform.extract.assets import stage_asset_key
from warehouse_platform.lib.landing import LANDING_PREFIX, LandedObject, LandingCursor, classify, run_key
from warehouse_platform.stage.storage import Stage
from warehouse_platform.warehouse.assets import raw_asset_key
from warehouse_platform.warehouse.raw_tables import RAW_TABLES

_SPECS = {spec.name: spec for spec in RAW_TABLES}
_PARTITIONED = {s.name for s in RAW_TABLES if s.partitioned}
_OTHERS = {s.name for s in RAW_TABLES if not s.partitioned}


def stage_op_name(table: str) -> str:
    return "__".join(stage_asset_key(_SPECS[table]).path)


@dg.sensor(
    name="landing_files",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    target=dg.AssetSelection.groups("stage", "raw_data"),
    description="Loads files dropped under landing/<table>/[day=YYYY-MM-DD/] in the stage. Off by default: "
    "turn it on under Automation.",
)
def landing_files(context: dg.SensorEvaluationContext, stage: Stage) -> dg.SensorResult | dg.SkipReason:
    cursor = LandingCursor.decode(context.cursor)
    listed = [LandedObject(o.key, o.last_modified, o.etag) for o in stage.list_objects(LANDING_PREFIX)]
    new = [o for o in listed if cursor.is_new(o)]
    if not new:
        return dg.SkipReason(f"no new files among {len(listed)} under {stage.url_for(LANDING_PREFIX)}")

    problems = []
    touched: set[tuple[str, str | None]] = set()
    for obj in new:
        landed = classify(obj, _PARTITIONED, _OTHERS)
        if isinstance(landed, str):
            problems.append(landed)
            context.log.warning(f"landing file not loaded: {landed}")
        else:
            touched.add((landed.table, landed.day))

    # Every file now present for a touched table/day, not only the new ones.
    present = defaultdict(list)
    for obj in listed:
        landed = classify(obj, _PARTITIONED, _OTHERS)
        if not isinstance(landed, str) and (landed.table, landed.day) in touched:
            present[(landed.table, landed.day)].append(landed)

    requests = []
    for (table, day), files in sorted(present.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        spec = _SPECS[table]
        keys = sorted(f.key for f in files)
        requests.append(
            dg.RunRequest(
                run_key=run_key(table, day, files),
                partition_key=day,
                asset_selection=[stage_asset_key(spec), raw_asset_key(spec)],
                run_config={"ops": {stage_op_name(table): {"config": {"landed_files": keys}}}},
                tags={"warehouse_platform/source": "landing", "warehouse_platform/landed_files": str(len(keys))},
            )
        )
    next_cursor = cursor.advance(new).encode()
    if not requests:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(f"{len(new)} new files, none loadable: " + "; ".join(problems)), cursor=next_cursor
        )
    return dg.SensorResult(run_requests=requests, cursor=next_cursor)
