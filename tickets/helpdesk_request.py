"""What a helpdesk receives for a ticket (issue 16): the TicketRequest the outbox's desk hands to the
backend's `create` (tickets/outbox.py): the form's fields with labels in STAFF_LANGUAGE, and a plain-text
body of those fields and the masked transcript.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from core.knowledge import knowledge
from core.phrases import say
from core.secrets import mask_secrets
from core.settings import Settings
from core.ticket_draft import priority_label, queue_label
from tickets.backends.base import TicketRequest
from tickets.store import Ticket


def staff_language(settings: Settings) -> str:
    wanted = settings.staff_language
    kb = knowledge()
    return wanted if wanted is not None and wanted in kb.languages else kb.default_language


def _problem_title(ticket: Ticket, lang: str) -> str:
    if not ticket.problem:
        return say("no_problem", lang)
    try:
        return knowledge().problem(ticket.problem).title.get(lang)
    except KeyError:  # a problem since removed from the knowledge file
        return ticket.problem


def ticket_fields(ticket: Ticket, lang: str) -> List[Tuple[str, str]]:
    """The form's fields as (label, value), labels in the staff language; user text masked."""
    kb = knowledge()

    def yes_no(value: Optional[bool]) -> str:
        return say("staff_unknown" if value is None else ("staff_yes" if value else "staff_no"), lang)

    rows = [
        ("staff_reference", ticket.id),
        ("staff_created", ticket.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("staff_priority", priority_label(kb, ticket.priority, lang)),
        ("staff_queue", queue_label(ticket.queue, lang)),
        ("staff_problem", _problem_title(ticket, lang)),
        ("staff_error_code", ticket.error_code or "—"),
        ("staff_steps_tried", "; ".join(str(step) for step in ticket.steps_tried) or "—"),
        ("staff_postmaster", yes_no(ticket.is_postmaster)),
        ("staff_contact", ticket.contact_email),
        ("staff_channel", ticket.channel),
        ("staff_language", ticket.language),
    ]
    if ticket.eml_delivery:
        rows.append(("staff_eml_delivery", mask_secrets(ticket.eml_delivery)))
    rows.append(("staff_description", mask_secrets(ticket.description)))
    return [(say(key, lang), value) for key, value in rows]


def ticket_body(ticket: Ticket, lang: str) -> str:
    """Plain text for the helpdesk: the fields, then the masked transcript (masked again here: the
    store masks on write, and a row written before masking existed must not leave unmasked)."""
    lines = [f"{label}: {value}" for label, value in ticket_fields(ticket, lang)]
    lines += ["", f"{say('staff_transcript', lang)}:"]
    for line in ticket.transcript:
        who = str(line.get("who", "?"))
        lines.append(f"[{who}] {mask_secrets(str(line.get('text', '')))}")
    return "\n".join(lines)


def ticket_request(ticket: Ticket, key: str, settings: Settings) -> TicketRequest:
    lang = staff_language(settings)
    return TicketRequest(
        idempotency_key=key,
        reference=ticket.id,
        subject=_problem_title(ticket, lang),
        body=ticket_body(ticket, lang),
        priority=ticket.priority,
        queue=ticket.queue,
        requestor_email=ticket.contact_email,
        language=ticket.language,
        fields=ticket_fields(ticket, lang),
    )
