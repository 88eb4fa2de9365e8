"""TicketStore without a database: ticket ids, and the error for a database it can't reach.
(The store on SQLite and on PostgreSQL is in tests/integration/tickets/test_store.py.)"""

from __future__ import annotations

from typing import Any, Dict

import pytest

from tickets.store import NewTicket, StoreUnavailable, TicketStore, format_id, parse_id


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
