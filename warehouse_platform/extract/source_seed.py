"""Fill the application's database with generated data (the stand-in for a real app).

Idempotent per day: a day is deleted and written again, so re-seeding never doubles rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from warehouse_platform.lib.session_generator import (
    CHANNELS,
    GeneratorConfig,
    generate_day,
)
from warehouse_platform.postgres_endpoint import PostgresEndpoint

APP_SCHEMA_DDL = """
CREATE SCHEMA IF NOT EXISTS app;
CREATE TABLE IF NOT EXISTS app.channels (channelname varchar(32) PRIMARY KEY);
CREATE TABLE IF NOT EXISTS app.sessions (
    sessionid varchar(32) PRIMARY KEY,
    userid int NOT NULL,
    channel varchar(32) NOT NULL REFERENCES app.channels (channelname),
    ts timestamp NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_ts ON app.sessions (ts);
CREATE TABLE IF NOT EXISTS app.transactions (
    sessionid varchar(32) PRIMARY KEY REFERENCES app.sessions (sessionid),
    amount int NOT NULL,
    refunded boolean NOT NULL
);
"""


def _copy_rows(cur, table: str, columns: str, rows: Iterable[tuple]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)


def seed_source_database(endpoint: PostgresEndpoint, days: Iterable[date], config: GeneratorConfig) -> dict[str, int]:
    """Write the generated days into the application tables; returns rows written per table."""
    counts = {"sessions": 0, "transactions": 0, "channels": len(CHANNELS)}
    conn = endpoint.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(APP_SCHEMA_DDL)
            cur.executemany(
                "INSERT INTO app.channels (channelname) VALUES (%s) ON CONFLICT DO NOTHING", [(c,) for c in CHANNELS]
            )
            for day in days:
                start = datetime.combine(day, time())
                window = {"start": start, "end": start + timedelta(days=1)}
                cur.execute(
                    "DELETE FROM app.transactions t USING app.sessions s "
                    "WHERE t.sessionid = s.sessionid AND s.ts >= %(start)s AND s.ts < %(end)s",
                    window,
                )
                cur.execute("DELETE FROM app.sessions WHERE ts >= %(start)s AND ts < %(end)s", window)
                data = generate_day(day, config)
                _copy_rows(cur, "app.sessions", "sessionid, userid, channel, ts",
                           zip(data.sessionid, data.userid, data.channel, (t.isoformat(" ") for t in data.ts)))
                _copy_rows(cur, "app.transactions", "sessionid, amount, refunded",
                           zip(data.txn_sessionid, data.txn_amount, data.txn_refunded))
                counts["sessions"] += len(data.sessionid)
                counts["transactions"] += len(data.txn_sessionid)
        conn.commit()
    finally:
        conn.close()
    return counts
