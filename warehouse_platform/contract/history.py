"""Where the application's history in this platform begins: one date, read by the daily
partitions (conventions/partitions.py), the demo and the generator's defaults (cli.py), so the UI's
partitions start on the first day the demo fills, not weeks before it."""

from datetime import date

# The first day of sessions the platform holds: the first partition. Earlier days are never
# extracted or loaded (a landed file for one is reported as not loadable).
FIRST_DAY = date(2026, 10, 26)
