"""The Dagster instance the platform ships: one dagster.yaml template (dagster.yaml.template),
rendered into DAGSTER_HOME by config.py, and the run launcher it names (run_launcher.py)."""
