"""Custom Dagster Components: the YAML building blocks under warehouse_platform/defs/."""
