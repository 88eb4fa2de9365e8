"""Switching the conversation's language on request ("English please", "说中文").

Detection needs no action: the NLU's LanguageDetector tags each message and the
`language` slot follows it; the `language_choice` slot (from the `language` entity
of switch_language) wins over it. This action confirms the switch, and picks the
other language when the user named none ("换个语言").
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dispatch import send
from actions.faq_actions import resume_messages
from actions.state import SLOT_LANGUAGE, SLOT_LANGUAGE_CHOICE, guide_state, latest_entity
from core import phrases
from core.knowledge import knowledge


def chosen_language(tracker: Tracker) -> Optional[str]:
    """The language asked for in this message, or the other one when none was named."""
    languages = knowledge().languages
    wanted = latest_entity(tracker, "language")
    if wanted in languages:
        return wanted
    current = tracker.get_slot(SLOT_LANGUAGE_CHOICE) or tracker.get_slot(SLOT_LANGUAGE)
    others = [lang for lang in languages if lang != current]
    return others[0] if others else None


class ActionSwitchLanguage(Action):
    """Confirm the language switch, then repeat where the guide stands (if one is running)."""

    def name(self) -> Text:
        return "action_switch_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        lang = chosen_language(tracker) or knowledge().default_language
        dispatcher.utter_message(text=phrases.say("language_switched", lang))
        if not tracker.active_loop.get("name"):  # the form re-asks its own question next
            send(dispatcher, resume_messages(knowledge(), guide_state(tracker), lang))
        return [SlotSet(SLOT_LANGUAGE_CHOICE, lang)]
