"""Fill the application's database with generated data (the stand-in for a real app).

Idempotent per day: a day is deleted and written again, so re-seeding never doubles rows.
Seeding is "as of" a day: the tables hold what the application holds at the end of it (refunds
that arrived by then, users' changes by then), so the source can be moved forward in time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from warehouse_platform.postgres_endpoint import PostgresEndpoint
from warehouse_platform.sample_data.session_generator import (
    CHANNELS,
    GeneratorConfig,
    generate_day,
    transactions_as_of,
    users_as_of,
)

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
    refunded boolean NOT NULL,
    updated_at timestamp NOT NULL
);
-- A source seeded before transactions carried updated_at gains it (re-seeded days fill it).
ALTER TABLE app.transactions ADD COLUMN IF NOT EXISTS updated_at timestamp;
CREATE INDEX IF NOT EXISTS transactions_updated_at ON app.transactions (updated_at);
CREATE TABLE IF NOT EXISTS app.users (
    userid int PRIMARY KEY,
    signup_at timestamp NOT NULL,
    country varchar(2) NOT NULL,
    updated_at timestamp NOT NULL,
    deleted_at timestamp
);
CREATE INDEX IF NOT EXISTS users_updated_at ON app.users (updated_at);
"""


def _copy_rows(cur, table: str, columns: str, rows: Iterable[tuple]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(" ")


def seed_source_database(
    endpoint: PostgresEndpoint, days: Iterable[date], config: GeneratorConfig, as_of: date | None = None
) -> dict[str, int]:
    """Write the generated days into the application tables as they are at the end of `as_of`
    (default: the last day); returns rows written per table. app.users is written whole."""
    days = list(days)
    as_of = as_of or max(days)
    counts = {"sessions": 0, "transactions": 0, "refunded": 0, "channels": len(CHANNELS)}
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
                txns = transactions_as_of(data, as_of)
                _copy_rows(cur, "app.transactions", "sessionid, amount, refunded, updated_at",
                           ((t.sessionid, t.amount, t.refunded, _iso(t.updated_at)) for t in txns))
                counts["sessions"] += len(data.sessionid)
                counts["transactions"] += len(txns)
                counts["refunded"] += sum(t.refunded for t in txns)
            users = users_as_of(as_of, config)
            cur.execute("DELETE FROM app.users")
            _copy_rows(cur, "app.users", "userid, signup_at, country, updated_at, deleted_at", (
                (u.userid, _iso(u.signup_at), u.country, _iso(u.updated_at), _iso(u.deleted_at)) for u in users
            ))
            counts["users"] = len(users)
        conn.commit()
    finally:
        conn.close()
    return counts
