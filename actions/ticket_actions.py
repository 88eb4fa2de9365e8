"""Escalation to a support ticket.

Ticket creation is not built yet (next issue), so these actions say so honestly,
give the route the guide names (postmaster or Alibaba Cloud console), and list
what the user should mention. They never invent a ticket number.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import phrases
from actions.dispatch import send
from actions.guide import GuideState, message
from actions.knowledge import knowledge
from actions.state import SLOT_OFFER, guide_state, language


def _failure_label(record: str, lang: str) -> str:
    """`forgot_password:step 3` → `Forgotten Password, step 3`."""
    key, _, detail = record.partition(":")
    try:
        title = knowledge().problem(key).title.get(lang)
    except KeyError:
        title = key
    return f"{title}, {detail}" if detail else title


def tickets_unavailable_messages(state: GuideState, lang: str) -> List[Dict[str, Any]]:
    """Say that tickets can't be opened yet, with the context to pass on to the postmaster."""
    lines = [phrases.say("tickets_unavailable", lang)]
    context = []
    if state.problem:
        context.append(phrases.say("ticket_context_problem", lang,
                                   text=knowledge().problem(state.problem).title.get(lang)))
    if state.error_code:
        context.append(phrases.say("ticket_context_error", lang, text=state.error_code))
    if state.steps_failed:
        context.append(phrases.say("ticket_context_failed", lang,
                                   text="; ".join(_failure_label(r, lang) for r in state.steps_failed)))
    if context:
        lines += ["", phrases.say("ticket_context", lang)] + [f"- {line}" for line in context]
    return [message("\n".join(lines))]


class ActionOpenTicket(Action):
    """The user asked for a ticket or a human."""

    def name(self) -> Text:
        return "action_open_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        send(dispatcher, tickets_unavailable_messages(guide_state(tracker), language(tracker)))
        return [SlotSet(SLOT_OFFER, None)]


class ActionTicketStatus(Action):
    """The user asked about a ticket's status."""

    def name(self) -> Text:
        return "action_ticket_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=phrases.say("ticket_status_unavailable", language(tracker)))
        return []
