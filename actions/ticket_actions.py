"""Escalation: open a support ticket from the conversation, and tell users about their tickets."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.privacy import refuse_ticket_here, say_privately
from actions.state import SLOT_OFFER, guide_state, language, latest_entity
from actions.ticket_form import FORM, FORM_SLOTS, SLOT_CONFIRMED, SLOT_DESCRIPTION, SLOT_EMAIL, SLOT_EML
from core import phrases
from core.knowledge import knowledge
from core.settings import get_settings
from core.ticket_draft import (
    default_description,
    is_postmaster,
    priority_for,
    priority_label,
    queue_for,
    queue_label,
    steps_tried,
    transcript,
)
from tickets.backends import make_backend
from tickets.delivery_worker import DeliveryWorker
from tickets.notify import notify_ticket_created
from tickets.outbox import RECEIVED, UNREACHABLE, TicketDesk, TicketView
from tickets.store import NewTicket, StoreUnavailable, Ticket, TicketNotFound, TicketStore, parse_id

logger = logging.getLogger(__name__)

SLOT_REQUEST_ID = "ticket_request_id"
SLOT_LAST_TICKET = "last_ticket_id"


@lru_cache(maxsize=1)
def ticket_store() -> TicketStore:
    """One store per action-server process (TICKETS_DB_URL or the SQLite file)."""
    return TicketStore()


_desk_lock = threading.Lock()
_desk: Optional[TicketDesk] = None
_worker: Optional[DeliveryWorker] = None


def ticket_desk() -> TicketDesk:
    """One desk per action-server process: the local store and the backend TICKET_BACKEND names; with a
    helpdesk and TICKET_OUTBOX_WORKER, its delivery worker runs in a daemon thread of this process
    (rebuilt when the store or the settings change: tests)."""
    global _desk, _worker
    store, settings = ticket_store(), get_settings()
    with _desk_lock:
        if _desk is None or _desk.store is not store or _desk.settings is not settings:
            if _worker is not None:
                _worker.stop(timeout=0)
            _desk = TicketDesk(store, make_backend(settings, store), settings)
            _worker = DeliveryWorker(_desk).start() if settings.ticket_outbox_worker and not _desk.builtin else None
        return _desk


def channel_of(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "unknown"


def begin_ticket(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
    """Announce the ticket; fresh form slots and a new request id (the ticket's idempotency key).

    In a group chat that can't continue in a direct message: only the privacy notice, and no form
    (the next action is forced to be listening, whatever the rules say comes after this one).
    """
    if refuse_ticket_here(dispatcher, tracker):
        return [SlotSet(SLOT_OFFER, None), FollowupAction("action_listen")]
    say_privately(dispatcher, tracker, phrases.say("ticket_start", language(tracker)))
    return [SlotSet(slot, None) for slot in FORM_SLOTS] + [
        SlotSet(SLOT_REQUEST_ID, uuid.uuid4().hex),
        SlotSet(SLOT_OFFER, None),
    ]


class ActionStartTicket(Action):
    """Begin a ticket request; the ticket form follows (rule)."""

    def name(self) -> Text:
        return "action_start_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        return begin_ticket(dispatcher, tracker)


def accept_ticket_offer(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
    """The user said yes to "shall I open a ticket?": start the form right away (unless begin_ticket refused)."""
    events = begin_ticket(dispatcher, tracker)
    refused = any(event.get("event") == "followup" for event in events)
    return events if refused else events + [FollowupAction(FORM)]


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def confirmation_text(ticket: Ticket, lang: str) -> str:
    return "\n".join(
        [
            phrases.say(
                "ticket_opened",
                lang,
                id=ticket.id,
                queue=queue_label(ticket.queue, lang),
                priority=priority_label(knowledge(), ticket.priority, lang),
            ),
            phrases.say(f"next_{ticket.queue}", lang, email=ticket.contact_email),
            phrases.say("ticket_status_hint", lang, id=ticket.id),
        ]
    )


class ActionSubmitTicket(Action):
    """Store the confirmed ticket (committed before we confirm), then notify staff in the background."""

    def name(self) -> Text:
        return "action_submit_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        lang = language(tracker)
        reset = [SlotSet(SLOT_CONFIRMED, None)]
        if tracker.get_slot(SLOT_CONFIRMED) is not True:
            dispatcher.utter_message(text=phrases.say("ticket_not_opened", lang))
            return reset
        kb = knowledge()
        state = guide_state(tracker)
        request_id = tracker.get_slot(SLOT_REQUEST_ID) or uuid.uuid4().hex
        new = NewTicket(
            idempotency_key=f"{channel_of(tracker)}:{tracker.sender_id}:{request_id}",
            priority=priority_for(kb, state),
            queue=queue_for(state),
            contact_email=tracker.get_slot(SLOT_EMAIL),
            description=tracker.get_slot(SLOT_DESCRIPTION) or default_description(kb, state, lang) or "",
            channel=channel_of(tracker),
            sender_id=tracker.sender_id,
            problem=state.problem,
            error_code=state.error_code,
            steps_tried=steps_tried(kb, state),
            is_postmaster=is_postmaster(state),
            eml_delivery=tracker.get_slot(SLOT_EML),
            language=lang,
            transcript=transcript(tracker.events),
        )
        try:
            # SQLAlchemy blocks (up to the SQLite busy timeout): keep other conversations running.
            # With a helpdesk the ticket is stored and queued here; the worker delivers it (tickets/delivery_worker.py).
            desk = ticket_desk()
            ticket, created = await asyncio.to_thread(desk.open, new)
        except StoreUnavailable as error:
            logger.error("ticket not stored: %s", error)
            dispatcher.utter_message(text=phrases.say("ticket_store_down", lang))
            return reset
        if created and desk.builtin:
            notify_ticket_created(ticket)  # a helpdesk notifies its own staff
        say_privately(dispatcher, tracker, confirmation_text(ticket, lang))
        return reset + [SlotSet(SLOT_LAST_TICKET, ticket.id), SlotSet(SLOT_OFFER, None)]


class ActionCancelTicket(Action):
    """Leave the ticket form without opening anything."""

    def name(self) -> Text:
        return "action_cancel_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=phrases.say("ticket_cancelled", language(tracker)))
        return [ActiveLoop(None), SlotSet("requested_slot", None)] + [SlotSet(s, None) for s in FORM_SLOTS]


def _status_line(view: TicketView, lang: str) -> str:
    """One ticket's line, the same for every backend (RECEIVED: still in the outbox)."""
    kb = knowledge()
    ticket = view.ticket
    title = kb.problem(ticket.problem).title.get(lang) if ticket.problem else phrases.say("no_problem", lang)
    known = ("open", "in_progress", "resolved", "closed", RECEIVED, UNREACHABLE)
    line = phrases.say(
        "ticket_line",
        lang,
        id=ticket.id,
        title=title,
        status=phrases.say(f"status_{view.status if view.status in known else 'in_progress'}", lang),
        updated=_time(view.updated_at),
    )
    if view.latest_reply:
        line += "\n  " + phrases.say("ticket_latest_note", lang, text=view.latest_reply)
    return line


class ActionTicketStatus(Action):
    """The sender's own tickets on this channel; any other id gets the same "not found".

    In a group chat the answer goes to the sender alone, or only a privacy notice is said (actions/privacy.py).
    """

    def name(self) -> Text:
        return "action_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        lang = language(tracker)
        asked: Optional[str] = latest_entity(tracker, "ticket_id")
        try:
            if asked:
                if parse_id(asked) is None:
                    raise TicketNotFound(asked)
                view = await asyncio.to_thread(
                    ticket_desk().view_for_sender, asked, tracker.sender_id, channel_of(tracker)
                )
                say_privately(dispatcher, tracker, _status_line(view, lang))
                return []
            mine = await asyncio.to_thread(ticket_desk().views_for_sender, tracker.sender_id, channel_of(tracker))
        except TicketNotFound:
            say_privately(dispatcher, tracker, phrases.say("ticket_not_found", lang, id=(asked or "").strip().upper()))
            return []
        except StoreUnavailable as error:
            logger.error("ticket status unavailable: %s", error)
            dispatcher.utter_message(text=phrases.say("ticket_store_down_status", lang))
            return []
        if not mine:
            say_privately(dispatcher, tracker, phrases.say("no_tickets", lang))
            return []
        lines = [phrases.say("your_tickets", lang)] + [_status_line(view, lang) for view in mine[:10]]
        say_privately(dispatcher, tracker, "\n".join(lines))
        return []
