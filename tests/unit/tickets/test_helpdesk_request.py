"""tickets/helpdesk_request.py: what a helpdesk receives for a ticket (fields, body, masking, staff language)."""

from __future__ import annotations

from core.settings import Settings
from tests.ticket_requests import PASSWORD, new_ticket
from tickets.helpdesk_request import ticket_body, ticket_request
from tickets.store import TicketStore


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
