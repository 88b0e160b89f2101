"""The raw_data tables: the contract with the application's data, and how each is loaded.

Column names and types are the contract (the seed's user/session schema). Session tables spread
by `sessionid` (a hash-like id, so it distributes evenly and collocates their joins) and are
sorted by time where they carry one; `channel` is a tiny dimension, copied to every node
(DISTSTYLE ALL).

Projections of an application table are declared as queries: a `table:` source is read whole,
and a column it has that the contract does not declare is schema evolution (on_new_column).
Purchases and users change after the day they were created (refunds, a new country), so they are
incremental: read by `updated_at`, upserted by key.
"""

from __future__ import annotations

from warehouse_platform.lib.table_spec import Column, DistStyle, Incremental, LoadMode, SourceSpec, TableSpec

SESSIONID = Column("sessionid", "varchar(32)", nullable=False, description="Session id (32 hex characters).", encoding="zstd")

# Distributed on userid: user-level analysis (attribution, MAU) aggregates by user without
# moving rows. It is also the column a few heavy users can skew; the skew check watches it.
USER_SESSION_CHANNEL = TableSpec(
    schema="raw_data",
    name="user_session_channel",
    description="Which user each session belongs to and the marketing channel it came from. One row per session.",
    columns=(
        Column("userid", "int", nullable=False, description="User id.", encoding="az64"),
        SESSIONID,
        Column("channel", "varchar(32)", description="Acquisition channel name.", encoding="bytedict"),
    ),
    primary_key=("sessionid",),
    partitioned=True,
    source=SourceSpec(query="SELECT userid, sessionid, channel, ts FROM app.sessions", day_column="ts", reads=("app.sessions",)),
    mode=LoadMode.REPLACE,
    dist_style=DistStyle.KEY,
    dist_key="userid",
    sort_key=("userid",),
    join_columns=("sessionid", "userid"),
)

SESSION_TIMESTAMP = TableSpec(
    schema="raw_data",
    name="session_timestamp",
    description="When each session started. One row per session.",
    columns=(SESSIONID, Column("ts", "timestamp", description="Session start time.", encoding="az64")),
    primary_key=("sessionid",),
    partitioned=True,
    source=SourceSpec(query="SELECT sessionid, ts FROM app.sessions", day_column="ts", reads=("app.sessions",)),
    mode=LoadMode.REPLACE,
    dedupe_order=("ts desc",),
    dist_style=DistStyle.KEY,
    dist_key="sessionid",
    sort_key=("ts",),
    join_columns=("sessionid",),
)

UPDATED_AT = Column("updated_at", "timestamp", nullable=False, description="When the row last changed in the application.", encoding="az64")

# A refund arrives days after its purchase and updates the purchase's row: the table lives in the
# day of each row's latest change, so a refunded purchase moves to the refund's day.
SESSION_TRANSACTION = TableSpec(
    schema="raw_data",
    name="session_transaction",
    description="Purchases made in a session: amount and whether it was refunded. At most one row per session.",
    columns=(
        SESSIONID,
        Column("refunded", "boolean", description="True if the purchase was refunded.", encoding="raw"),
        Column("amount", "int", description="Purchase amount.", encoding="az64"),
        UPDATED_AT,
    ),
    primary_key=("sessionid",),
    partitioned=True,
    source=SourceSpec(table="app.transactions", day_column="updated_at"),
    incremental=Incremental(cursor="updated_at", lookback_days=2),
    mode=LoadMode.UPSERT,
    dedupe_order=("updated_at desc",),
    dist_style=DistStyle.KEY,
    dist_key="sessionid",
    sort_key=("sessionid",),
    parity_sum="amount",
)

# Whole table, incremental: each load reads the users changed since the newest change loaded
# (minus the lookback) and upserts them; a deleted user keeps its row, with deleted_at set.
USERS = TableSpec(
    schema="raw_data",
    name="users",
    description="The application's users: signup time and country. One row per user, updated in place.",
    columns=(
        Column("userid", "int", nullable=False, description="User id.", encoding="az64"),
        Column("signup_at", "timestamp", nullable=False, description="When the user signed up.", encoding="az64"),
        Column("country", "varchar(8)", description="Country code (ISO 3166-1 alpha-2).", encoding="bytedict"),
        UPDATED_AT,
        Column("deleted_at", "timestamp", description="When the user was deleted (soft delete); NULL while active.", encoding="az64"),
    ),
    primary_key=("userid",),
    partitioned=False,
    source=SourceSpec(table="app.users"),
    incremental=Incremental(cursor="updated_at", lookback_days=2, soft_delete_column="deleted_at"),
    mode=LoadMode.UPSERT,
    dedupe_order=("updated_at desc",),
    dist_style=DistStyle.KEY,
    dist_key="userid",
    sort_key=("userid",),
    join_columns=("userid",),
    parity_sum="updated_at",
)

CHANNEL = TableSpec(
    schema="raw_data",
    name="channel",
    description="The marketing channels sessions can come from. Small; replaced whole on every load.",
    columns=(Column("channelname", "varchar(32)", nullable=False, description="Channel name.", encoding="zstd"),),
    primary_key=("channelname",),
    partitioned=False,
    source=SourceSpec(table="app.channels"),
    mode=LoadMode.REPLACE,
    dist_style=DistStyle.ALL,
)

RAW_TABLES: tuple[TableSpec, ...] = (USER_SESSION_CHANNEL, SESSION_TIMESTAMP, SESSION_TRANSACTION, CHANNEL, USERS)


def raw_table(schema: str, name: str) -> TableSpec:
    for spec in RAW_TABLES:
        if (spec.schema, spec.name) == (schema, name):
            return spec
    raise KeyError(f"no load spec for {schema}.{name}; declare it in {__name__}")
