"""Everything the code location serves, one folder per domain, loaded by
dg.load_from_defs_folder (definitions.py): raw_data/defs.yaml is the table catalog, analytics/
the dbt models and their exports."""
