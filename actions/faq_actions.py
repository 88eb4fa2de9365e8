"""After a detour (an FAQ answer, the help menu, an out-of-scope answer: responses rendered by Rasa,
data/responses/), return to the guide that waits for the user (data/rules.yml predicts this action
only then: slot guide_active)."""

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
    """Continue the guide where it was after a detour; silent when no guide runs."""

    def name(self) -> Text:
        return "action_resume_guide"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        send(dispatcher, resume_messages(knowledge(), guide_state(tracker), language(tracker)))
        return []
