"""tickets/scrub.py on a real SQLite ticket database with tickets as the unmasked store wrote them."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import sqlalchemy as sa

from core.secrets import mask_secrets
from tests.unmasked_rows import MESSAGES, insert_ticket, secrets_in
from tickets.retention import open_engine
from tickets.scrub import TicketScrubResult, scrub_tickets
from tickets.store import NewTicket, TicketStore

NOW = datetime.now(timezone.utc)


@pytest.fixture
def database(tmp_path: Path) -> str:
    """One old ticket per message (with a staff comment quoting it), and one written by today's store."""
    url = f"sqlite:///{tmp_path / 'tickets.sqlite3'}"
    store = TicketStore(url)
    store.ensure_schema()
    with store.engine.begin() as connection:
        for number, (text, _, _) in enumerate(MESSAGES, start=1):
            insert_ticket(connection, number, text, comments=[f"user wrote: {text}", "called back"])
    store.create(NewTicket("today", "low", "support", "a@example.com", MESSAGES[0][0], "rest", "u"))
    store.engine.dispose()
    return url


def snapshot(url: str) -> Tuple[Dict[int, tuple], Dict[int, tuple]]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        tickets = {row[0]: tuple(row[1:]) for row in connection.execute(sa.text("SELECT * FROM tickets"))}
        events = {row[0]: tuple(row[1:]) for row in connection.execute(sa.text("SELECT * FROM ticket_events"))}
    engine.dispose()
    return tickets, events


def raw(url: str) -> bytes:
    path = Path(url.split("///", 1)[1])
    return b"".join(part.read_bytes() for part in sorted(path.parent.glob(path.name + "*")))


def changed(before: Dict[int, tuple], after: Dict[int, tuple]) -> List[int]:
    return [key for key in before if before[key] != after[key]]


def test_masks_every_free_text_column_and_counts_the_rows(database: str) -> None:
    tickets_before, events_before = snapshot(database)
    assert len(secrets_in(raw(database))) == len(MESSAGES)
    engine = open_engine(database)
    try:
        result = scrub_tickets(engine)
        tickets_after, events_after = snapshot(database)
        assert changed(tickets_before, tickets_after) == list(range(1, len(MESSAGES) + 1))  # not today's ticket
        assert len(changed(events_before, events_after)) == len(MESSAGES)  # the comments quoting the user
        assert result == TicketScrubResult(
            tickets=len(MESSAGES) + 1,
            tickets_changed=len(MESSAGES),
            comments=2 * len(MESSAGES),
            comments_changed=len(MESSAGES),
        )
        assert result.changed == 2 * len(MESSAGES)
        assert secrets_in(raw(database)) == []
        assert scrub_tickets(engine).changed == 0  # idempotent
    finally:
        engine.dispose()
    assert snapshot(database) == (tickets_after, events_after)
    # What the store and its readers see: the same text as today's store would have written.
    store = TicketStore(database)
    for number, (text, _, _) in enumerate(MESSAGES, start=1):
        ticket = store.get(f"ALM-{number:06d}")
        assert ticket.description == mask_secrets(f"It says: {text}")
        assert ticket.eml_delivery == mask_secrets(f"I will forward it; {text}")
        assert ticket.transcript == [
            {"who": "user", "text": mask_secrets(text)},
            {"who": "bot", "text": mask_secrets(f"You said: {text}")},
        ]
        assert [e.detail for e in ticket.events if e.kind == "comment"] == [
            mask_secrets(f"user wrote: {text}"),
            "called back",
        ]
        assert ticket.contact_email == "anna@example.com"
    store.engine.dispose()


def test_a_transcript_without_secrets_keeps_its_bytes(database: str) -> None:
    engine = sa.create_engine(database)
    escaped = json.dumps([{"who": "user", "text": "你好"}])  # ensure_ascii: written differently than the store does
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE tickets SET transcript = :t WHERE number = 1"), {"t": escaped})
    engine.dispose()
    engine = open_engine(database)
    try:
        scrub_tickets(engine)
    finally:
        engine.dispose()
    assert snapshot(database)[0][1][-1] == escaped


def test_a_dry_run_counts_and_writes_nothing(database: str) -> None:
    before = snapshot(database)
    engine = open_engine(database)
    try:
        assert scrub_tickets(engine, dry_run=True).changed == 2 * len(MESSAGES)
    finally:
        engine.dispose()
    assert snapshot(database) == before
