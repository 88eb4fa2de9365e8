"""Typed secrets never reach the ticket database, the ticket API or staff notifications (issue 12).

The store writes every free-text field masked (description, .eml answer, transcript, comments),
so everything that reads it sees masked text; notifications mask once more on their own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from tests.asgi_client import AsgiClient
from tickets import notify
from tickets.api import create_app
from tickets.store import NewTicket, StoreUnavailable, Ticket, TicketStore

PASSWORD = "Hunter2!"
CODE = "482913"
TYPED = f"my password is {PASSWORD} and it stopped working"
TYPED_ZH = f"验证码是{CODE}，登录不了"
TOKEN = "unit-test-token-0123456789abcdef"


def new_ticket(key: str, **changes: Any) -> NewTicket:
    values: Dict[str, Any] = dict(
        idempotency_key=key,
        priority="Medium",
        queue="support",
        contact_email="user@example.com",
        description="It does not work",
        channel="rest",
        sender_id="sender-1",
    )
    values.update(changes)
    return NewTicket(**values)


def secrets_in(value: Any) -> List[str]:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False)
    escaped = json.dumps(TYPED_ZH)[1:-1]
    return [s for s in (PASSWORD, CODE, escaped) if s in text]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tickets.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[TicketStore]:
    ticket_store = TicketStore(f"sqlite:///{db_path}")
    try:
        yield ticket_store
    finally:
        ticket_store.engine.dispose()


def secret_ticket(store: TicketStore) -> Ticket:
    ticket, created = store.create(
        new_ticket(
            "k-secret",
            description=TYPED,
            eml_delivery=f"I'll forward it, the code was {CODE}",
            transcript=[{"who": "user", "text": TYPED_ZH}, {"who": "bot", "text": f"You said: {TYPED}"}],
            contact_email="12345678@qq.com",
        )
    )
    assert created
    return store.comment(ticket.id, f"user says: pw {PASSWORD}, sms code {CODE}", "agent-1")


def test_every_free_text_field_comes_back_masked(store: TicketStore) -> None:
    ticket = secret_ticket(store)
    for read in (ticket, store.get(ticket.id), store.list()[0]):
        assert read.description == "my password is [hidden] and it stopped working"
        assert read.eml_delivery == "I'll forward it, the code was [hidden]"
        assert read.transcript[0] == {"who": "user", "text": "验证码是[hidden]，登录不了"}
        assert read.latest_comment() is not None
        assert PASSWORD not in read.latest_comment().detail and CODE not in read.latest_comment().detail
        assert read.contact_email == "12345678@qq.com"  # a validated address, not free text
        assert secrets_in(read.to_dict()) == []


def test_the_database_files_hold_no_secret(store: TicketStore, db_path: Path) -> None:
    secret_ticket(store)
    store.engine.dispose()  # close connections; the WAL file may still hold the rows: read it too
    files = sorted(db_path.parent.glob("tickets.sqlite3*"))
    assert files and sum(f.stat().st_size for f in files) > 0
    assert secrets_in(b"".join(f.read_bytes() for f in files)) == []


def test_the_api_answers_masked_text(store: TicketStore) -> None:
    ticket = secret_ticket(store)
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async def main() -> List[bytes]:
        async with AsgiClient(create_app(store, TOKEN)) as client:
            bodies = []
            for method, target, body in (
                ("GET", f"/tickets/{ticket.id}", b""),
                ("GET", "/tickets", b""),
                ("PATCH", f"/tickets/{ticket.id}", json.dumps({"comment": f"password: {PASSWORD}"}).encode()),
            ):
                status, _, content = await client.request(method, target, body=body, headers=auth)
                assert status == 200, content
                bodies.append(content)
            return bodies

    bodies = asyncio.run(main())
    assert all(b"[hidden]" in body for body in bodies)
    assert [secrets_in(body) for body in bodies] == [[], [], []]


@pytest.mark.parametrize("fmt", notify.FORMATS)
def test_notifications_mask_even_a_ticket_that_was_not_masked(store: TicketStore, fmt: str) -> None:
    # A Ticket built by other code (not read from the store) with the raw text in it.
    raw = dataclasses.replace(secret_ticket(store), description=f"{TYPED}\n{TYPED_ZH}")
    payload = notify.build_payload(raw, fmt)
    assert secrets_in(payload) == []
    assert "hidden" in json.dumps(payload, ensure_ascii=False)  # DingTalk's markdown escapes it: \\[hidden\\]


def test_a_failing_insert_error_shows_no_parameter_values(store: TicketStore) -> None:
    """The message becomes StoreUnavailable, which the actions and the API log."""
    with pytest.raises(StoreUnavailable) as raised:
        store.create(new_ticket("k-fails", contact_email=None, description="mails bounce since Monday"))
    message = str(raised.value)
    assert "NOT NULL" in message and "hide_parameters" in message
    assert "mails bounce since Monday" not in message and "k-fails" not in message
