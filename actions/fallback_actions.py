"""Fallback and "did you mean" actions (the help menu, the out-of-scope answer and the request to
rephrase are responses: data/responses/menus.yml, generated from the knowledge file).

`action_default_ask_affirmation` and `action_default_fallback` replace Rasa's
defaults inside the two-stage fallback: the first names intents in human words,
the second offers escalation after two messages in a row were not understood.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.state import SLOT_OFFER, language
from core import phrases
from core.guide import OFFER_TICKET, PAYLOAD_NO, PAYLOAD_OPEN_TICKET, button
from core.knowledge import Knowledge, knowledge
from core.menus import problem_buttons

MAX_SUGGESTIONS = 3
# Below this the ranking is noise (other scripts, emoji): offer the topics instead.
MIN_SUGGESTION_CONFIDENCE = 0.15
NOT_SUGGESTED = {"nlu_fallback", "out_of_scope"}
RETRIEVAL_INTENT = "faq"


def predicted_faq_intent(tracker: Tracker) -> Optional[str]:
    """The response selector's `faq/<key>` for the latest message, if any."""
    selector = (tracker.latest_message.get("response_selector") or {}).get(RETRIEVAL_INTENT) or {}
    return (selector.get("response") or {}).get("intent_response_key")


def has_words(text: Optional[str]) -> bool:
    """False for empty, blank, emoji-only or punctuation-only messages."""
    return any(ch.isalnum() for ch in text or "")


def suggestion_buttons(kb: Knowledge, tracker: Tracker, lang: str) -> List[Dict[str, str]]:
    """Buttons for the most likely intents that have human words, best first."""
    ranking = tracker.latest_message.get("intent_ranking") or []
    buttons: List[Dict[str, str]] = []
    for candidate in ranking:
        name: Optional[str] = candidate.get("name")
        if not name or name in NOT_SUGGESTED:
            continue
        if float(candidate.get("confidence") or 0.0) < MIN_SUGGESTION_CONFIDENCE:
            break  # the ranking is sorted
        if name == RETRIEVAL_INTENT:
            # A payload can't carry the FAQ key to the response selector, so the
            # button sends the FAQ's question, which the NLU is trained on.
            faq = kb.faq_for_intent(predicted_faq_intent(tracker))
            label = kb.label(faq.intent, lang) if faq and faq.intent else None
            payload = faq.question.get(lang) if faq else None
        else:
            label = kb.label(name, lang)
            payload = f"/{name}"
        if label and payload:
            buttons.append(button(label, payload))
        if len(buttons) == MAX_SUGGESTIONS:
            break
    return buttons


class ActionAskAffirmation(Action):
    """First fallback stage: "did you mean …?" with the likely intents in human words."""

    def name(self) -> Text:
        return "action_default_ask_affirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        kb = knowledge()
        lang = language(tracker)
        if not has_words(tracker.latest_message.get("text")):
            text, buttons = phrases.say("no_words", lang), problem_buttons(kb, lang)
        else:
            buttons = suggestion_buttons(kb, tracker, lang)
            text = phrases.say("did_you_mean" if buttons else "not_understood_topics", lang)
            buttons = buttons or problem_buttons(kb, lang)
        buttons.append(button(phrases.say("button_something_else", lang), "/out_of_scope"))
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


class ActionDefaultFallback(Action):
    """Second fallback stage: not understood twice in a row, so offer a ticket."""

    def name(self) -> Text:
        return "action_default_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        lang = language(tracker)
        text = "\n\n".join([phrases.say("fallback_give_up", lang), phrases.say("offer_escalation", lang)])
        dispatcher.utter_message(
            text=text,
            buttons=[
                button(phrases.say("button_open_ticket", lang), PAYLOAD_OPEN_TICKET),
                button(phrases.say("button_no_thanks", lang), PAYLOAD_NO),
            ],
        )
        # Like Rasa's default: forget the unclear message, so the dialogue state is
        # the one before it (the record of the message stays in the tracker's events).
        return [UserUtteranceReverted(), SlotSet(SLOT_OFFER, OFFER_TICKET)]
