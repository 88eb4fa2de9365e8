"""After an FAQ answer (`utter_faq`, rendered from the knowledge file), return to the running guide."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.dispatch import send
from actions.state import guide_state, language
from core import guide, phrases
from core.guide import GuideState, message
from core.knowledge import Knowledge, knowledge


def resume_messages(kb: Knowledge, state: GuideState, lang: str) -> List[Dict[str, Any]]:
    """After a detour, repeat what the running guide is waiting for (nothing when no guide runs)."""
    prompt = guide.current_prompt(kb, state, lang)
    if not prompt or state.problem is None:  # a prompt means a guide runs, so a problem is set
        return []
    return [message(phrases.say("resume", lang, title=kb.problem(state.problem).title.get(lang)))] + prompt


class ActionResumeGuide(Action):
    """Continue the guide where it was, after an FAQ answered mid-guide; silent when no guide runs."""

    def name(self) -> Text:
        return "action_resume_guide"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        send(dispatcher, resume_messages(knowledge(), guide_state(tracker), language(tracker)))
        return []
