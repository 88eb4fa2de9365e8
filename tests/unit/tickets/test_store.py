"""TicketStore: ticket ids, the error for a database it can't reach, and `update` (one transaction)
on a temporary SQLite file. (The store on SQLite and on PostgreSQL is in
tests/integration/tickets/test_store.py.)"""

from __future__ import annotations

from typing import Any, Dict

import pytest
from sqlalchemy import text

from tickets.store import (
    MAX_COMMENT,
    InvalidChange,
    NewTicket,
    StoreUnavailable,
    TicketNotFound,
    TicketStore,
    format_id,
    parse_id,
)


def new_ticket(key: str, sender: str = "sender-1", channel: str = "rest", **changes: Any) -> NewTicket:
    """A ticket as the ticket action files it, with `changes` applied."""
    values: Dict[str, Any] = dict(
        idempotency_key=key,
        priority="normal",
        queue="support",
        contact_email="user@example.com",
        description="It does not work",
        channel=channel,
        sender_id=sender,
        problem="bounce",
        error_code="550",
        steps_tried=["restart"],
        is_postmaster=False,
        transcript=[{"who": "user", "text": "help"}],
    )
    values.update(changes)
    return NewTicket(**values)


def test_parse_id() -> None:
    assert parse_id(" alm-000042 ") == 42 and parse_id("ALM-7") == 7
    for value in ("", "ALM-", "ALM-12a", "42", "ALM--1", "ALM-²", "ALM-١٢", "ALM-99999999999999999999"):
        assert parse_id(value) is None, value


def test_format_id_pads_to_six_digits_and_parses_back() -> None:
    assert format_id(42) == "ALM-000042" and format_id(1234567) == "ALM-1234567"
    assert [parse_id(format_id(n)) for n in (1, 42, 999999, 1234567)] == [1, 42, 999999, 1234567]


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres@127.0.0.1:1/test", "sqlite:////proc/tickets-not-writable/tickets.sqlite3"],
    ids=["postgresql-port-1", "sqlite-under-proc"],
)
def test_unreachable_database_raises_store_unavailable(url: str) -> None:
    store = TicketStore(url, timeout_seconds=2)
    try:
        with pytest.raises(StoreUnavailable):
            store.create(new_ticket("k-unreachable"))
        with pytest.raises(StoreUnavailable):
            store.list()
        with pytest.raises(StoreUnavailable):
            store.list_for_sender("sender-1", "rest")
    finally:
        store.engine.dispose()


# -- update: status, assignee and comment in one transaction -----------------------------------
def fail_comment_inserts(store: TicketStore) -> None:
    """A database that refuses to record a comment (as a full disk or a constraint would), after the
    status and assignee of the same update were written."""
    store.ensure_schema()
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse_comments BEFORE INSERT ON ticket_events WHEN NEW.kind = 'comment' "
                "BEGIN SELECT RAISE(ABORT, 'comments refused'); END"
            )
        )


def test_update_records_every_change_with_one_timestamp(store: TicketStore) -> None:
    ticket, _ = store.create(new_ticket("k-update"))
    changed = store.update(ticket.id, "anna", status="in_progress", assignee=" bob ", comment=" On it ")
    assert (changed.status, changed.assignee) == ("in_progress", "bob")
    events = [(e.kind, e.author, e.detail) for e in changed.events[1:]]
    assert events == [("status", "anna", "open → in_progress"), ("assign", "anna", "bob"), ("comment", "anna", "On it")]
    assert len({e.created_at for e in changed.events[1:]}) == 1 and changed.updated_at == changed.events[-1].created_at


def test_a_failing_comment_leaves_status_and_assignee_unchanged(store: TicketStore) -> None:
    ticket, _ = store.create(new_ticket("k-atomic"))
    fail_comment_inserts(store)
    with pytest.raises(StoreUnavailable):
        store.update(ticket.id, "anna", status="in_progress", assignee="bob", comment="On it")
    stored = store.get(ticket.id)
    assert (stored.status, stored.assignee, len(stored.events)) == ("open", None, 1)
    assert stored.updated_at == ticket.updated_at


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"status": "done"},
        {"status": "in_progress", "assignee": "   "},
        {"status": "in_progress", "assignee": "x" * 129},
        {"status": "in_progress", "assignee": "bob", "comment": "x" * (MAX_COMMENT + 1)},
        {"status": "in_progress", "assignee": "bob", "comment": "nul \x00 byte"},
        {"status": "open", "assignee": "bob", "comment": "reopen"},  # already open
    ],
)
def test_a_refused_part_changes_nothing(store: TicketStore, changes: Dict[str, str]) -> None:
    ticket, _ = store.create(new_ticket("k-refused"))
    with pytest.raises(InvalidChange):
        store.update(ticket.id, "anna", **changes)
    stored = store.get(ticket.id)
    assert (stored.status, stored.assignee, len(stored.events)) == ("open", None, 1)


def test_update_checks_the_author_and_the_ticket(store: TicketStore) -> None:
    ticket, _ = store.create(new_ticket("k-author"))
    for author in ("", "x" * 129, "nul\x00"):
        with pytest.raises(InvalidChange):
            store.update(ticket.id, author, comment="hi")
    with pytest.raises(TicketNotFound):
        store.update("ALM-999999", "anna", comment="hi")
    assert store.update(ticket.id, "anna", comment="x" * MAX_COMMENT).latest_comment() is not None
