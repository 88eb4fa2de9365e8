"""actions/state.py: the guide state and the conversation's language, read from and written to slots."""

from __future__ import annotations

from actions.state import guide_state, language, latest_entity, latest_intent, slot_events
from core.guide import GuideState
from tests.trackers import make_tracker, slots_after


def test_a_chosen_language_wins_over_the_detected_one() -> None:
    assert language(make_tracker("greet", slots={"language": "zh"})) == "zh"
    assert language(make_tracker("greet", slots={"language": "zh", "language_choice": "en"})) == "en"
    assert language(make_tracker("greet", slots={"language": "fr"})) == "en"  # unknown: the default


def test_the_guide_state_survives_a_round_trip_through_the_slots() -> None:
    state = GuideState(
        problem="verification_failed",
        stage="steps",
        step_index=2,
        role="postmaster",
        has_recovery=None,
        pending_offer="ticket",
        error_code="SpamDetected",
        steps_failed=["verification_failed:step 1"],
    )
    slots = slots_after({}, slot_events(state))
    assert slots == {
        "problem": "verification_failed",
        "guide_stage": "steps",
        "step_index": 2.0,  # Rasa keeps numbers as floats
        "role": "postmaster",
        "has_recovery": None,
        "pending_offer": "ticket",
        "error_code": "SpamDetected",
        "steps_failed": ["verification_failed:step 1"],
        "guide_active": True,  # what the rules read (data/rules.yml)
    }
    assert guide_state(make_tracker("next_step", slots=slots)) == state


def test_guide_active_is_set_with_the_state_so_the_rules_resume_only_a_waiting_guide() -> None:
    for stage, waiting in [("branch", True), ("steps", True), ("verify", True), ("done", False), (None, False)]:
        state = GuideState(problem="forgot_password", stage=stage)
        assert state.active is waiting
        assert slots_after({}, slot_events(state))["guide_active"] is waiting
    assert slots_after({}, slot_events(GuideState()))["guide_active"] is False


def test_empty_slots_are_no_guide() -> None:
    assert guide_state(make_tracker("greet")) == GuideState()


def test_latest_intent_and_entity() -> None:
    tracker = make_tracker(
        "inform_role", entities=[{"entity": "role", "value": "user"}, {"entity": "role", "value": "postmaster"}]
    )
    assert latest_intent(tracker) == "inform_role"
    assert latest_entity(tracker, "role") == "user"  # the first one
    assert latest_entity(tracker, "language") is None
    assert latest_intent(make_tracker(None, text="")) is None
