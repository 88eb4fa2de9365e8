"""Reading and writing the guide's state in Rasa slots."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from core.guide import GuideState
from core.knowledge import knowledge

SLOT_PROBLEM = "problem"
SLOT_STAGE = "guide_stage"
SLOT_STEP = "step_index"
SLOT_ROLE = "role"
SLOT_HAS_RECOVERY = "has_recovery"
SLOT_OFFER = "pending_offer"
SLOT_ERROR_CODE = "error_code"
SLOT_STEPS_FAILED = "steps_failed"
SLOT_GUIDE_ACTIVE = "guide_active"
SLOT_LANGUAGE = "language"
SLOT_LANGUAGE_CHOICE = "language_choice"


def guide_state(tracker: Tracker) -> GuideState:
    """The guide state stored in the tracker's slots."""
    step = tracker.get_slot(SLOT_STEP)
    return GuideState(
        problem=tracker.get_slot(SLOT_PROBLEM),
        stage=tracker.get_slot(SLOT_STAGE),
        step_index=int(step) if step is not None else 0,
        role=tracker.get_slot(SLOT_ROLE),
        has_recovery=tracker.get_slot(SLOT_HAS_RECOVERY),
        pending_offer=tracker.get_slot(SLOT_OFFER),
        error_code=tracker.get_slot(SLOT_ERROR_CODE),
        steps_failed=list(tracker.get_slot(SLOT_STEPS_FAILED) or []),
    )


def slot_events(state: GuideState) -> List[Dict[str, Any]]:
    """SlotSet events that store `state`."""
    return [
        SlotSet(SLOT_PROBLEM, state.problem),
        SlotSet(SLOT_STAGE, state.stage),
        SlotSet(SLOT_STEP, float(state.step_index)),
        SlotSet(SLOT_ROLE, state.role),
        SlotSet(SLOT_HAS_RECOVERY, state.has_recovery),
        SlotSet(SLOT_OFFER, state.pending_offer),
        SlotSet(SLOT_ERROR_CODE, state.error_code),
        SlotSet(SLOT_STEPS_FAILED, list(state.steps_failed)),
        SlotSet(SLOT_GUIDE_ACTIVE, state.active),
    ]


def language(tracker: Tracker) -> str:
    """The conversation's language: the one the user chose, else the one last detected."""
    for slot in (SLOT_LANGUAGE_CHOICE, SLOT_LANGUAGE):
        lang = tracker.get_slot(slot)
        if lang in knowledge().languages:
            return lang
    return knowledge().default_language


def latest_intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_entity(tracker: Tracker, entity: str) -> Optional[str]:
    return next(tracker.get_latest_entity_values(entity), None)
