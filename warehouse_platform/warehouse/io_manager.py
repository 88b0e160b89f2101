"""WarehouseIOManager: a raw asset's output (its table's spec, a staged batch, what the run
allows) is COPY-loaded into that table under its spec."""


import dagster as dg

from warehouse_platform.stage.landing_record import record_loaded
from warehouse_platform.stage.storage import Stage
from warehouse_platform.warehouse.day_volume import day_volume
from warehouse_platform.warehouse.load_request import StagedLoad
from warehouse_platform.warehouse.loader import load_staged_batch
from warehouse_platform.warehouse.resources import Warehouse

# Definition metadata of a raw asset: the table it loads, schema.name.
TABLE = "table"


def table_schema(spec, columns=None) -> dg.TableSchema:
    """The columns of the spec's warehouse table (or these of its columns: a staged file
    carries only the contract's), as the UI's column schema."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                c.name, c.sql_type, description=c.description,
                constraints=dg.TableColumnConstraints(nullable=c.nullable, unique=c.name in spec.primary_key),
            )
            for c in (spec.table_columns if columns is None else columns)
        ]
    )


class WarehouseIOManager(dg.ConfigurableIOManager):
    warehouse: dg.ResourceDependency[Warehouse]
    stage: dg.ResourceDependency[Stage]

    def handle_output(self, context: dg.OutputContext, obj: StagedLoad) -> None:
        spec, batch = obj.spec, obj.batch
        report = load_staged_batch(self.warehouse, self.stage, spec, batch, context.run_id, allow_shrink=obj.allow_shrink)
        # An empty day is said as such, with row_volume's verdict beside it (an ERROR when the
        # days before held rows), never as "already loaded".
        volume = day_volume(self.warehouse, spec, report.partition_key).description if report.empty and spec.partitioned else None
        if report.empty:
            where = f"{spec.qualified_name} {report.partition_key}" if spec.partitioned else spec.qualified_name
            context.log.warning(f"{where}: {report.outcome}" + (f"; row_volume: {volume}" if volume else ""))
        elif report.already_loaded:
            context.log.info(f"{spec.qualified_name} {report.partition_key}: every file already loaded; nothing to do")
        if report.day_holds_batch and batch.landed_versions is not None:
            # The day's rows come from exactly these landed files (stage/landing_record.py).
            record_loaded(context.step_context.instance, spec.name, report.partition_key, dict(batch.landed_versions))
        context.add_output_metadata(
            {
                "dagster/row_count": report.table_rows,
                "dagster/partition_row_count": report.partition_rows,
                # With the columns the platform added (on_new_column: add), which the catalog's
                # definition metadata cannot know.
                "dagster/column_schema": table_schema(spec, report.columns),
                "rows_staged": report.rows_staged,
                "rows_loaded": report.rows_loaded,
                "duplicates_skipped": report.duplicates_skipped,
                # The key, not the day: offered rows older than the key's row elsewhere (kept
                # as they were), and rows of keys that left the day, loaded where they now live.
                "rows_superseded": report.rows_superseded,
                "rows_moved_to_other_days": report.rows_moved,
                f"keys_deleted_in_the_source ({spec.deletes})": report.keys_deleted,
                **(
                    {
                        # A key repeated within key_window_days: one copy, the latest day's;
                        # the others wait in <schema>_held_back (sql/key_window.py).
                        "rows_held_back_for_a_later_day": report.rows_held_back,
                        "earlier_days_copies_held_back": report.earlier_copies_held_back,
                        "held_back_copies_restored": report.copies_restored,
                    }
                    if spec.key_window_days else {}
                ),
                "outcome": report.outcome,
                **({"row_volume": volume} if volume else {}),
                "already_loaded": report.already_loaded and not report.empty,
                "allow_shrink": obj.allow_shrink,
                "files": report.files,
                "bytes": report.bytes,
                "seconds": report.seconds,
                "load_id": report.load_id,
                "copy_statement": dg.MetadataValue.md(f"```sql\n{report.copy_statement}\n```"),
                "ledger": dg.MetadataValue.table(
                    records=[dg.TableRecord({"file": p.url, "checksum": p.checksum, "rows": p.row_count}) for p in batch.parts],
                    schema=dg.TableSchema(
                        columns=[dg.TableColumn("file", "string"), dg.TableColumn("checksum", "string"), dg.TableColumn("rows", "int")]
                    ),
                ),
                "duplicate_keys_sample": dg.MetadataValue.json(
                    [{"key": list(d[:-1]), "copies": d[-1]} for d in report.duplicate_keys_sample]
                ),
            }
        )

    def load_input(self, context: dg.InputContext) -> str:
        """Downstream Python assets get the qualified table name (the raw asset's `table`
        metadata) and query it themselves."""
        return context.upstream_output.definition_metadata[TABLE].value
