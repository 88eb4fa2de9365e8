"""The ticket form: asks only for what the conversation does not already know, then a summary to confirm.

The questions are responses Rasa renders itself (`utter_ask_<slot>`, data/responses/prompts.yml, from
core/form_questions.py); the validation and the summary are here."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dispatch import send
from actions.privacy import say_privately
from actions.state import guide_state, language, latest_intent
from core import phrases
from core.guide import PAYLOAD_NO, PAYLOAD_YES, button
from core.knowledge import knowledge
from core.menus import out_of_scope_messages
from core.secrets import mask_secrets
from core.ticket_draft import (
    EML_PROBLEMS,
    default_description,
    priority_for,
    priority_label,
    queue_for,
    queue_label,
    steps_tried,
)

FORM = "ticket_form"
SLOT_EMAIL = "contact_email"
SLOT_DESCRIPTION = "ticket_description"
SLOT_EML = "eml_delivery"
SLOT_CONFIRMED = "ticket_confirmed"
FORM_SLOTS = [SLOT_EMAIL, SLOT_DESCRIPTION, SLOT_EML, SLOT_CONFIRMED]

# Deliberately simple: one @, a dot in the domain, no spaces; what mail clients accept in practice.
EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
MIN_DESCRIPTION = 5
MAX_DESCRIPTION = 2000
MAX_EML_ANSWER = 500
# Channels whose `verified_identity` comes from a token the server checked (channels/webchat.py).
VERIFYING_CHANNELS = ("socketio",)


def clean_email(value: Any) -> Optional[str]:
    """The address found in `value` (lower-cased domain), or None when it is not an email address."""
    if not isinstance(value, str):
        return None
    candidates = [w.strip("<>()[],;:\"'") for w in value.split()]
    found = [c for c in candidates if EMAIL.match(c)]
    if len(found) != 1 or len(found[0]) > 254:
        return None
    local, _, domain = found[0].rpartition("@")
    return f"{local}@{domain.lower()}"


def clean_description(value: Any) -> Optional[str]:
    """The description on one line, secrets masked (the summary shows it as the ticket will keep it)."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if len(text) < MIN_DESCRIPTION or not any(ch.isalpha() for ch in text):
        return None
    return mask_secrets(text[:MAX_DESCRIPTION])


def clean_eml_answer(value: Any) -> Optional[str]:
    """The answer on one line, secrets masked."""
    if not isinstance(value, str) or not value.strip():
        return None
    return mask_secrets(" ".join(value.split())[:MAX_EML_ANSWER])


def verified_email(tracker: Tracker) -> Optional[str]:
    """The email of the signed-in employee, when the channel verified it (web chat with a JWT).

    Only a message the web chat channel received counts: the other channels drop a client's
    `verified_identity`, and this is the second line of defence (SECURITY.md)."""
    if tracker.get_latest_input_channel() not in VERIFYING_CHANNELS:
        return None
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    identity = metadata.get("verified_identity") if isinstance(metadata, dict) else None
    return clean_email(identity.get("email")) if isinstance(identity, dict) else None


def needed_slots(tracker: Tracker) -> List[str]:
    """The form's questions for this conversation.

    The description only when no problem is known, the .eml only for spam bounces.
    """
    state = guide_state(tracker)
    slots = [SLOT_EMAIL]
    if default_description(knowledge(), state) is None:
        slots.append(SLOT_DESCRIPTION)
    if state.problem in EML_PROBLEMS:
        slots.append(SLOT_EML)
    slots.append(SLOT_CONFIRMED)
    return slots


class ValidateTicketForm(FormValidationAction):
    """Validates each answer and re-asks with an explanation when it doesn't fit."""

    def name(self) -> Text:
        return "validate_ticket_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        return needed_slots(tracker)

    def extract_contact_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A verified email fills the slot, so the question is skipped."""
        email = None if tracker.get_slot(SLOT_EMAIL) else verified_email(tracker)
        return {SLOT_EMAIL: email} if email else {}

    def validate_contact_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        email = clean_email(value)
        if email is None:
            lang = language(tracker)
            if latest_intent(tracker) == "out_of_scope" and "@" not in str(value):
                # An unrelated question rather than a bad address: answer it, then the form asks again.
                send(dispatcher, out_of_scope_messages(knowledge(), lang))
            else:
                say_privately(dispatcher, tracker, phrases.say("invalid_email", lang))
        return {SLOT_EMAIL: email}

    def validate_ticket_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        description = clean_description(value)
        if description is None:
            say_privately(
                dispatcher, tracker, phrases.say("invalid_description", language(tracker), minimum=MIN_DESCRIPTION)
            )
        return {SLOT_DESCRIPTION: description}

    def validate_eml_delivery(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        answer = clean_eml_answer(value)
        if answer is None:
            say_privately(dispatcher, tracker, phrases.say("invalid_eml_answer", language(tracker)))
        return {SLOT_EML: answer}


def summary_lines(tracker: Tracker, lang: str) -> List[str]:
    """The ticket as it will be opened, one fact per line."""
    kb = knowledge()
    state = guide_state(tracker)
    lines = []
    if state.problem:
        lines.append(phrases.say("summary_problem", lang, text=kb.problem(state.problem).title.get(lang)))
    if state.error_code:
        lines.append(phrases.say("summary_error", lang, text=state.error_code))
    tried = steps_tried(kb, state)
    if tried:
        lines.append(phrases.say("summary_steps", lang, count=len(tried), failed=len(state.steps_failed)))
    if state.role:
        lines.append(phrases.say("summary_role_" + state.role, lang))
    lines.append(phrases.say("summary_email", lang, text=tracker.get_slot(SLOT_EMAIL)))
    description = tracker.get_slot(SLOT_DESCRIPTION) or default_description(kb, state, lang)
    lines.append(phrases.say("summary_description", lang, text=description))
    if tracker.get_slot(SLOT_EML):
        lines.append(phrases.say("summary_eml", lang, text=tracker.get_slot(SLOT_EML)))
    lines.append(
        phrases.say(
            "summary_queue",
            lang,
            queue=queue_label(queue_for(state), lang),
            priority=priority_label(kb, priority_for(kb, state), lang),
        )
    )
    return lines


class ActionAskTicketConfirmed(Action):
    """Show the summary and ask for confirmation (to the person alone in a group chat: actions/privacy.py)."""

    def name(self) -> Text:
        return "action_ask_ticket_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        lang = language(tracker)
        text = "\n".join(
            [phrases.say("summary_intro", lang)]
            + [f"- {line}" for line in summary_lines(tracker, lang)]
            + ["", phrases.say("summary_confirm", lang)]
        )
        say_privately(
            dispatcher,
            tracker,
            text,
            [
                button(phrases.say("button_open_it", lang), PAYLOAD_YES),
                button(phrases.say("button_cancel", lang), PAYLOAD_NO),
            ],
        )
        return []
