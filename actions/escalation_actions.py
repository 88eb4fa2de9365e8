"""A request for a person ("talk to a human", 转人工): there is no live chat, so offer a ticket."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.dispatch import send
from actions.state import guide_state, language, slot_events
from core import guide
from core.knowledge import knowledge

TICKET_FORM = "ticket_form"


class ActionRequestHuman(Action):
    """Say that no live chat exists here and offer a ticket; "yes" then opens the ticket form
    (`action_handle_answer`, as after any ticket offer). Inside the ticket form, say that the
    ticket goes to people and let the form go on."""

    def name(self) -> Text:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        in_form = (tracker.active_loop or {}).get("name") == TICKET_FORM
        state = guide_state(tracker)
        reply = guide.request_human(knowledge(), state, language(tracker), in_ticket_form=in_form)
        send(dispatcher, reply.messages)
        return [] if in_form else slot_events(reply.state)
