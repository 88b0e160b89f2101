"""Stable check names: the UI, the demo report and alerting refer to checks by these."""

DUPLICATE_PRIMARY_KEYS = "duplicate_primary_keys"
DISTRIBUTION_SKEW = "distribution_skew"
ROWS_STAGED_EQUAL_ROWS_LOADED = "rows_staged_equal_rows_loaded"
REDSHIFT_TYPE_LIMITS = "redshift_type_limits"
ROW_VOLUME = "row_volume"
SOURCE_PARITY = "source_parity"
REJECTED_LINES = "rejected_lines"
