"""Tickets for the tests: a new ticket as the actions file it (with a typed password to be masked), and a
ticket as the outbox hands it to a helpdesk backend."""

from __future__ import annotations

import uuid
from typing import Any, Dict

from tickets.backends.base import TicketRequest
from tickets.store import NewTicket

PASSWORD = "Hunter2!xyz"


def new_ticket(sender: str = "alice", channel: str = "rest", **changes: Any) -> NewTicket:
    """A support ticket from `sender` on `channel` whose description and transcript hold PASSWORD."""
    values: Dict[str, Any] = dict(
        idempotency_key=f"{channel}:{sender}:{uuid.uuid4().hex}",
        priority="High",
        queue="support",
        contact_email="jane@corp.example",
        description=f"my password is {PASSWORD}",
        channel=channel,
        sender_id=sender,
        problem="forgot_password",
        transcript=[{"who": "user", "text": f"my password is {PASSWORD}"}, {"who": "bot", "text": "OK"}],
    )
    values.update(changes)
    return NewTicket(**values)


def ticket_request(key: str = "ALM-000001-abcdef012345", **changes: Any) -> TicketRequest:
    """A masked ticket for `key` (the idempotency key), with `changes` to its fields."""
    values: Dict[str, Any] = dict(
        idempotency_key=key,
        reference=key[:10],
        subject="Forgotten Password",
        body="Reference: ALM-000001\nPriority: High\n\nTranscript:\n[user] I forgot my password ***",
        priority="High",
        queue="support",
        requestor_email="user@example.com",
    )
    values.update(changes)
    return TicketRequest(**values)
