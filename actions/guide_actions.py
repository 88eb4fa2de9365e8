"""Rasa actions that run the guided troubleshooting conversations (see core.guide)."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.dispatch import send
from actions.state import guide_state, language, latest_entity, latest_intent, slot_events
from actions.ticket_actions import accept_ticket_offer
from core import guide
from core.knowledge import knowledge
from core.menus import help_messages


class ActionStartGuide(Action):
    """Start the guide for the problem the user named (also used to switch topic)."""

    def name(self) -> Text:
        return "action_start_guide"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        kb = knowledge()
        lang = language(tracker)
        state = guide_state(tracker)
        intent = latest_intent(tracker)
        code = latest_entity(tracker, "error_code")
        problem = kb.problem_for_intent(intent) or kb.problem_for_error_code(code)
        if problem is None:
            send(dispatcher, help_messages(kb, lang))
            return []
        reply = guide.start(kb, problem.key, state, lang, error_code=code)
        send(dispatcher, reply.messages)
        return slot_events(reply.state)


class ActionNextStep(Action):
    """The user finished a step: show the next one, or the verification check."""

    def name(self) -> Text:
        return "action_next_step"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reply = guide.next_step(knowledge(), guide_state(tracker), language(tracker))
        send(dispatcher, reply.messages)
        return slot_events(reply.state)


class ActionShowAllSteps(Action):
    """Show all remaining steps at once."""

    def name(self) -> Text:
        return "action_show_all_steps"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reply = guide.all_steps(knowledge(), guide_state(tracker), language(tracker))
        send(dispatcher, reply.messages)
        return slot_events(reply.state)


class ActionStepFailed(Action):
    """Something did not work: record it and offer escalation."""

    def name(self) -> Text:
        return "action_step_failed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reply = guide.step_failed(knowledge(), guide_state(tracker), language(tracker))
        send(dispatcher, reply.messages)
        return slot_events(reply.state)


class ActionHandleAnswer(Action):
    """Interpret yes / no / a role according to the question the bot asked last."""

    def name(self) -> Text:
        return "action_handle_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        lang = language(tracker)
        state = guide_state(tracker)
        intent = latest_intent(tracker) or ""
        role = latest_entity(tracker, "role") or state.role
        accepted_offer = state.pending_offer == guide.OFFER_TICKET and intent == "affirm"
        reply = guide.answer(knowledge(), state, lang, intent, role=role)
        send(dispatcher, reply.messages)
        if accepted_offer:
            return slot_events(reply.state) + accept_ticket_offer(dispatcher, tracker)
        return slot_events(reply.state)


class ActionStopGuide(Action):
    """Leave the current guide."""

    def name(self) -> Text:
        return "action_stop_guide"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reply = guide.stop(guide_state(tracker), language(tracker))
        send(dispatcher, reply.messages)
        return slot_events(reply.state)
