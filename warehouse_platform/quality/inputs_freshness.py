"""Analytics freshness from their inputs: a model is stale when any daily table it reads,
directly or through other models, is stale by newest_day_fresh's rule (rules/freshness.py).

Dagster's FreshnessPolicy on a model would measure its last build, which a rebuild over weeks-old
inputs renews: "Passing" although the numbers are a month old. So models carry no policy; each
model reading daily tables carries the check `inputs_fresh` instead, which names every stale input and how many days
behind it is. It runs with every build of the model and, like newest_day_fresh, is recorded every
10 minutes without a run by the sensor `analytics_inputs_freshness`, so a model nobody rebuilds
turns stale on its page when its inputs do.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

import dagster as dg

from warehouse_platform import settings
from warehouse_platform.contract.table_spec import TableSpec
from warehouse_platform.conventions import check_names
from warehouse_platform.conventions.asset_keys import raw_asset_key
from warehouse_platform.quality import evaluations
from warehouse_platform.quality.newest_day import (
    FRESHNESS_SENSOR_INTERVAL_SECONDS,
    business_today,
    recorded_without_a_run,
)
from warehouse_platform.rules.freshness import StaleInput, newest_loaded_day, stale_inputs
from warehouse_platform.warehouse.resources import Warehouse


def daily_inputs(model_specs: Iterable[dg.AssetSpec], tables: Sequence[TableSpec]) -> dict[dg.AssetKey, list[TableSpec]]:
    """Each analytics model's daily tables, through lineage: the asset graph's own dependencies,
    followed through models that read models. Models reading no daily table are left out."""
    deps = {spec.key: [dep.asset_key for dep in spec.deps] for spec in model_specs}
    daily = {raw_asset_key(spec): spec for spec in tables if spec.partitioned}

    def reached(key: dg.AssetKey, seen: set[dg.AssetKey]) -> set[dg.AssetKey]:
        found = set()
        for dep in deps.get(key, ()):
            if dep in seen:
                continue
            seen.add(dep)
            found |= {dep} if dep in daily else reached(dep, seen)
        return found

    inputs = {key: sorted(reached(key, set()), key=dg.AssetKey.to_user_string) for key in deps if key.path[0] == "analytics"}
    return {key: [daily[k] for k in found] for key, found in inputs.items() if found}


def inputs_fresh(warehouse: Warehouse, inputs: Sequence[TableSpec], today: date) -> dg.AssetCheckResult:
    newest = {spec.qualified_name: newest_loaded_day(evaluations.days_with_rows(warehouse, spec)) for spec in inputs}
    stale = stale_inputs(newest, today)
    behind = {s.table: s for s in stale}
    yesterday = today - timedelta(days=1)
    if stale:
        verdict = f"stale: it reads {'; '.join(s.describe() for s in stale)} (yesterday is {yesterday})"
    else:
        verdict = f"fresh: every daily table it reads holds yesterday ({yesterday}): {', '.join(newest)}"
    return dg.AssetCheckResult(
        passed=not stale,
        # The severity of newest_day_fresh: the same rule, carried through lineage.
        severity=dg.AssetCheckSeverity.ERROR,
        description=verdict,
        metadata={
            "stale_inputs": dg.MetadataValue.text(", ".join(s.table for s in stale) or "none"),
            "inputs": dg.MetadataValue.table(
                records=[
                    dg.TableRecord({
                        "table": table,
                        "newest_loaded_day": str(day) if day else "none",
                        "days_behind": _days_behind_text(behind.get(table)),
                        "verdict": "stale" if table in behind else "fresh",
                    })
                    for table, day in newest.items()
                ],
                schema=dg.TableSchema(columns=[
                    dg.TableColumn(name, "string") for name in ("table", "newest_loaded_day", "days_behind", "verdict")
                ]),
            ),
            "judged_on": dg.MetadataValue.text(f"{today} ({settings.timezone()})"),
        },
    )


def _days_behind_text(stale: StaleInput | None) -> str:
    # Text, as newest_day_fresh shows it: a fresh input is 0 behind, one holding no day "n/a".
    if stale is None:
        return "0"
    return "n/a" if stale.days_behind is None else str(stale.days_behind)


def _describe(inputs: Sequence[TableSpec], timezone: str) -> str:
    return (
        f"Fails when a daily table it reads (through lineage: {', '.join(s.qualified_name for s in inputs)}) "
        f"has no loaded day of yesterday ({timezone}), as newest_day_fresh judges it; names each stale input and how far behind."
    )


def build_inputs_fresh_checks(model_inputs: Mapping[dg.AssetKey, Sequence[TableSpec]]) -> list[dg.AssetChecksDefinition]:
    timezone = settings.timezone()

    def check_for(model: dg.AssetKey, inputs: Sequence[TableSpec]) -> dg.AssetChecksDefinition:
        @dg.asset_check(asset=model, name=check_names.INPUTS_FRESH, description=_describe(inputs, timezone))
        def inputs_fresh_check(warehouse: Warehouse) -> dg.AssetCheckResult:
            return inputs_fresh(warehouse, inputs, business_today(timezone))

        return inputs_fresh_check

    return [check_for(model, inputs) for model, inputs in model_inputs.items()]


def build_inputs_freshness_sensor(model_inputs: Mapping[dg.AssetKey, Sequence[TableSpec]]) -> dg.SensorDefinition:
    timezone = settings.timezone()

    @dg.sensor(
        name="analytics_inputs_freshness",
        minimum_interval_seconds=FRESHNESS_SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Records inputs_fresh of every analytics model reading daily tables every 10 minutes, without a run, "
        "so a model turns stale in the UI when a table it reads does.",
    )
    def analytics_inputs_freshness(context: dg.SensorEvaluationContext, warehouse: Warehouse) -> dg.SensorResult:
        today = business_today(timezone)
        return recorded_without_a_run(check_names.INPUTS_FRESH, "models", {
            model: inputs_fresh(warehouse, inputs, today) for model, inputs in model_inputs.items()})

    return analytics_inputs_freshness


def build_defs(model_specs: Iterable[dg.AssetSpec], tables: Sequence[TableSpec]) -> dg.Definitions:
    model_inputs = daily_inputs(model_specs, tables)
    return dg.Definitions(asset_checks=build_inputs_fresh_checks(model_inputs), sensors=[build_inputs_freshness_sensor(model_inputs)])
