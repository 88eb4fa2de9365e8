"""tickets/retention.py on a real SQLite ticket database: closed tickets lose their transcript, nothing else."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.unmasked_rows import MESSAGES, insert_ticket
from tickets.retention import TRANSCRIPT_NOTE, TicketDatabaseMissing, expire_transcripts, open_engine
from tickets.store import NewTicket, TicketStore

NOW = datetime.now(timezone.utc)


@pytest.fixture
def database(tmp_path: Path) -> str:
    """Tickets 1-4 as the old store wrote them; 5 opened and closed today through today's store."""
    url = f"sqlite:///{tmp_path / 'tickets.sqlite3'}"
    store = TicketStore(url)
    store.ensure_schema()
    with store.engine.begin() as connection:
        insert_ticket(connection, 1, MESSAGES[0][0], status="closed", closed_at=NOW - timedelta(days=40))
        insert_ticket(connection, 2, MESSAGES[1][0], status="closed", closed_at=NOW - timedelta(days=10))
        insert_ticket(connection, 3, MESSAGES[2][0], status="resolved", closed_at=NOW - timedelta(days=40))
        insert_ticket(connection, 4, MESSAGES[3][0], status="open")
    new = NewTicket(
        "k5", "low", "support", "a@example.com", "hello", "rest", "u5", transcript=[{"who": "user", "text": "hi"}]
    )
    ticket, _ = store.create(new)
    store.set_status(ticket.id, "closed", "anna")
    store.engine.dispose()
    return url


def transcripts(url: str) -> dict:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = dict(connection.execute(sa.text("SELECT number, transcript FROM tickets")).all())
    engine.dispose()
    return found


def test_closed_tickets_lose_their_transcript_after_the_period(database: str) -> None:
    before = transcripts(database)
    engine = open_engine(database)
    try:
        assert expire_transcripts(engine, NOW - timedelta(days=30)) == ["ALM-000001"]
        after = transcripts(database)
        assert after[1] == TRANSCRIPT_NOTE and json.loads(after[1])[0]["who"] == "system"
        assert {n: t for n, t in after.items() if n != 1} == {n: t for n, t in before.items() if n != 1}
        assert expire_transcripts(engine, NOW - timedelta(days=30)) == []  # idempotent
        # A shorter period: ticket 2 (closed 10 days ago) and 5 (closed just now, by the store itself).
        # (From the clock now, not NOW: collection may be minutes before the test runs.)
        soon = datetime.now(timezone.utc) + timedelta(seconds=5)
        assert expire_transcripts(engine, soon) == ["ALM-000002", "ALM-000005"]
    finally:
        engine.dispose()
    # The tickets themselves stay, readable by the store.
    store = TicketStore(database)
    ticket = store.get("ALM-000001")
    assert ticket.status == "closed" and ticket.description.startswith("It says: ")
    assert ticket.transcript == json.loads(TRANSCRIPT_NOTE)
    assert store.get("ALM-000003").transcript == json.loads(before[3])  # resolved is not closed
    store.engine.dispose()


def test_a_dry_run_lists_and_changes_nothing(database: str) -> None:
    before = transcripts(database)
    engine = open_engine(database)
    try:
        assert expire_transcripts(engine, NOW - timedelta(days=30), dry_run=True) == ["ALM-000001"]
    finally:
        engine.dispose()
    assert transcripts(database) == before


def test_the_close_time_is_the_status_change_not_a_later_comment(database: str) -> None:
    store = TicketStore(database)
    store.comment("ALM-000001", "a late note", "anna")  # bumps updated_at to now
    store.engine.dispose()
    engine = open_engine(database)
    try:
        assert expire_transcripts(engine, NOW - timedelta(days=30)) == ["ALM-000001"]
    finally:
        engine.dispose()


def test_no_database_yet_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "tickets.sqlite3"
    with pytest.raises(TicketDatabaseMissing):
        open_engine(f"sqlite:///{missing}")
    assert not missing.parent.exists()
    other = tmp_path / "other.sqlite3"
    sa.create_engine(f"sqlite:///{other}").connect().close()
    engine = open_engine(f"sqlite:///{other}")
    with pytest.raises(TicketDatabaseMissing, match="no ticket tables"):
        expire_transcripts(engine, NOW)
    engine.dispose()
