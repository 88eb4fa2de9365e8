"""The conversation's language: detected on each message, or chosen by the user."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction

from actions import phrases
from actions.dispatch import send
from actions.faq_actions import resume_messages
from actions.knowledge import knowledge
from actions.language import detect_language
from actions.state import SLOT_LANGUAGE, guide_state, language, latest_entity, latest_intent

SLOT_LANGUAGE_CHOICE = "language_choice"
INTENT_SWITCH = "switch_language"


def chosen_language(tracker: Tracker) -> Optional[str]:
    """The language the user asked for in this message ("English please", "说中文"), if any."""
    if latest_intent(tracker) != INTENT_SWITCH:
        return None
    wanted = latest_entity(tracker, "language")
    languages = knowledge().languages
    if wanted in languages:
        return wanted
    # "switch language" without saying which: the other one.
    others = [lang for lang in languages if lang != language(tracker)]
    return others[0] if others else None


class ActionValidateSlotMappings(ValidationAction):
    """Runs after every user message (Rasa's slot extraction): sets the conversation's language."""

    def name(self) -> Text:
        return "action_validate_slot_mappings"

    async def extract_language(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: Dict[Text, Any]) -> Dict[Text, Any]:
        chosen = chosen_language(tracker)
        if chosen:
            return {SLOT_LANGUAGE: chosen, SLOT_LANGUAGE_CHOICE: chosen}
        if tracker.get_slot(SLOT_LANGUAGE_CHOICE) in knowledge().languages:
            return {}  # an explicit choice holds until the user chooses again
        detected = detect_language(tracker.latest_message.get("text"))
        if detected in knowledge().languages and detected != tracker.get_slot(SLOT_LANGUAGE):
            return {SLOT_LANGUAGE: detected}
        return {}


class ActionSwitchLanguage(Action):
    """Confirm the language switch, then repeat where the guide stands (if one is running)."""

    def name(self) -> Text:
        return "action_switch_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        lang = language(tracker)
        dispatcher.utter_message(text=phrases.say("language_switched", lang))
        if not tracker.active_loop.get("name"):  # the form re-asks its own question next
            send(dispatcher, resume_messages(knowledge(), guide_state(tracker), lang))
        return []
