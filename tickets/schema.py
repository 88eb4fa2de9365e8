"""The ticket tables and the migrations that create them.

The application owns its schema: `migrate(engine)` brings any database to the
latest version, one numbered step at a time, recording each in
`ticket_schema_version`. Several processes may start at once, so the steps run
under a database lock (PostgreSQL advisory lock, SQLite write lock).
"""

from __future__ import annotations

from typing import Callable, List

from sqlalchemy import Column, DateTime, ForeignKey, Integer, MetaData, String, Table, Text, UniqueConstraint, text
from sqlalchemy.engine import Connection, Engine

metadata = MetaData()

tickets = Table(
    "tickets",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=True),  # shown as ALM-000042
    Column("idempotency_key", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", String(8), nullable=False),
    Column("queue", String(16), nullable=False),
    Column("assignee", String(128)),
    Column("problem", String(64)),
    Column("error_code", String(64)),
    Column("steps_tried", Text, nullable=False),  # JSON list
    Column("is_postmaster", String(8)),  # "yes" / "no" / null when unknown
    Column("contact_email", String(320), nullable=False),
    Column("description", Text, nullable=False),
    Column("eml_delivery", Text),
    Column("language", String(8), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("sender_id", String(255), nullable=False),
    Column("transcript", Text, nullable=False),  # JSON list of {"who", "text"}
    UniqueConstraint("idempotency_key", name="uq_tickets_idempotency_key"),
)

ticket_events = Table(
    "ticket_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_number", Integer, ForeignKey("tickets.number"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("author", String(128), nullable=False),
    Column("kind", String(16), nullable=False),  # created / status / assign / comment
    Column("detail", Text, nullable=False),
)

# Issue 16: with a helpdesk backend (TICKET_BACKEND), the local ticket is the record of who opened
# what; `ticket_outbox` holds what still has to reach the helpdesk (the ticket, then user comments),
# `ticket_remote` where each delivered ticket lives there.
ticket_outbox = Table(
    "ticket_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_number", Integer, ForeignKey("tickets.number"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # create / comment
    Column("backend", String(16), nullable=False),
    Column("idempotency_key", String(64), nullable=False),  # sent to the helpdesk: no user data
    Column("text", Text),  # a comment's masked text
    Column("author_email", String(320)),
    Column("state", String(16), nullable=False),  # pending / delivered / rejected
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    UniqueConstraint("idempotency_key", name="uq_ticket_outbox_key"),
)

ticket_remote = Table(
    "ticket_remote",
    metadata,
    Column("ticket_number", Integer, ForeignKey("tickets.number"), primary_key=True),
    Column("backend", String(16), nullable=False),
    Column("remote_id", String(128), nullable=False),
    Column("display_id", String(128)),
    Column("url", Text),
    Column("delivered_at", DateTime(timezone=True), nullable=False),
)

schema_version = Table(
    "ticket_schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
)


def _v1_create_tables(connection: Connection) -> None:
    metadata.create_all(connection, tables=[tickets, ticket_events])


def _v2_index_sender(connection: Connection) -> None:
    connection.execute(text("CREATE INDEX IF NOT EXISTS ix_tickets_sender ON tickets (sender_id, channel)"))


def _v3_outbox(connection: Connection) -> None:
    metadata.create_all(connection, tables=[ticket_outbox, ticket_remote])
    connection.execute(
        text("CREATE INDEX IF NOT EXISTS ix_ticket_outbox_due ON ticket_outbox (state, next_attempt_at)")
    )


# Append new steps; never edit one that has shipped.
MIGRATIONS: List[Callable[[Connection], None]] = [_v1_create_tables, _v2_index_sender, _v3_outbox]
LATEST_VERSION = len(MIGRATIONS)


def current_version(connection: Connection) -> int:
    schema_version.create(connection, checkfirst=True)
    return connection.execute(text("SELECT COALESCE(MAX(version), 0) FROM ticket_schema_version")).scalar() or 0


def migrate(engine: Engine) -> int:
    """Apply the missing migration steps in one transaction; returns the schema version.

    SQLite transactions start with BEGIN IMMEDIATE (see tickets.store), which
    already serialises concurrent starters; PostgreSQL takes an advisory lock.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(742001)"))
        version = current_version(connection)
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            step(connection)
            connection.execute(schema_version.insert().values(version=number))
    return max(version, LATEST_VERSION)
