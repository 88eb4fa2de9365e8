"""tickets/helpdesk_request.py: what a helpdesk receives for a ticket (fields, body, masking, staff language)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from core.settings import Settings
from tickets.helpdesk_request import ticket_body, ticket_request
from tickets.store import NewTicket, TicketStore

PASSWORD = "Hunter2!xyz"


def new_ticket(**changes: Any) -> NewTicket:
    values: Dict[str, Any] = dict(
        idempotency_key=f"rest:alice:{uuid.uuid4().hex}",
        priority="High",
        queue="support",
        contact_email="jane@corp.example",
        description=f"my password is {PASSWORD}",
        channel="rest",
        sender_id="alice",
        problem="forgot_password",
        transcript=[{"who": "user", "text": f"my password is {PASSWORD}"}, {"who": "bot", "text": "OK"}],
    )
    values.update(changes)
    return NewTicket(**values)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TicketStore]:
    store = TicketStore(f"sqlite:///{tmp_path / 'tickets.sqlite3'}")
    yield store
    store.engine.dispose()


def test_the_helpdesk_gets_the_fields_and_the_masked_transcript(store: TicketStore) -> None:
    ticket, _ = store.create(new_ticket(eml_delivery="I will attach it; code 123456", error_code="E1"))
    body = ticket_body(ticket, "en")
    assert "Assistant reference: ALM-000001" in body and "Error code: E1" in body
    assert "Contact: jane@corp.example" in body and "Description: my password is [hidden]" in body
    assert "How the .eml reaches support: I will attach it; code [hidden]" in body
    assert "[user] my password is [hidden]" in body and PASSWORD not in body and "123456" not in body
    request = ticket_request(ticket, "ALM-000001-abc", Settings.from_environ({"STAFF_LANGUAGE": "zh"}))
    assert (request.subject, request.priority, request.queue) == ("忘记密码", "High", "support")
    assert "助手工单编号: ALM-000001" in request.body
