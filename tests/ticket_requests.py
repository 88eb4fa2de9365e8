"""A ticket as the outbox hands it to a helpdesk backend (the backends' tests)."""

from __future__ import annotations

from typing import Any, Dict

from tickets.backends.base import TicketRequest


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
