"""Stable check names: the UI, the demo report and alerting refer to checks by these."""

DUPLICATE_PRIMARY_KEYS = "duplicate_primary_keys"
DISTRIBUTION_SKEW = "distribution_skew"
ROWS_STAGED_EQUAL_ROWS_LOADED = "rows_staged_equal_rows_loaded"
REDSHIFT_TYPE_LIMITS = "redshift_type_limits"
ROW_VOLUME = "row_volume"
SOURCE_PARITY = "source_parity"
NEWEST_DAY_FRESH = "newest_day_fresh"
REJECTED_LINES = "rejected_lines"
INPUTS_FRESH = "inputs_fresh"

# Judged against the calendar: a load of past days (a backfill of history) does not fail on
# them, and a stale input does not hold back what reads it.
FRESHNESS_CHECKS = (NEWEST_DAY_FRESH, INPUTS_FRESH)
