"""How each raw table is read from the application's tables.

The application keeps sessions, purchases and channels (see source_seed.py); the raw tables
are projections of them. Every value is selected as text: the CSV writer then only joins
strings, and booleans and timestamps reach the file in Postgres's own canonical text form,
which both Postgres and Redshift COPY read back.
"""

from __future__ import annotations

_DAY_WINDOW = "s.ts >= %(day_start)s AND s.ts < %(day_end)s"

EXTRACT_QUERIES: dict[str, str] = {
    "user_session_channel": (
        f"SELECT s.userid::text, s.sessionid, s.channel FROM app.sessions s WHERE {_DAY_WINDOW}"
    ),
    "session_timestamp": f"SELECT s.sessionid, s.ts::text FROM app.sessions s WHERE {_DAY_WINDOW}",
    "session_transaction": (
        "SELECT t.sessionid, t.refunded::text, t.amount::text "
        f"FROM app.transactions t JOIN app.sessions s ON s.sessionid = t.sessionid WHERE {_DAY_WINDOW}"
    ),
    "channel": "SELECT c.channelname FROM app.channels c",
}

# Which application tables each raw table is read from (the lineage shown in the UI).
SOURCE_TABLES_READ: dict[str, tuple[str, ...]] = {
    "user_session_channel": ("sessions",),
    "session_timestamp": ("sessions",),
    "session_transaction": ("transactions", "sessions"),
    "channel": ("channels",),
}
