"""actions/faq_actions.py: after an FAQ answer, the running guide resumes where it was."""

from __future__ import annotations

from actions.faq_actions import ActionResumeGuide
from actions.guide_actions import ActionHandleAnswer, ActionNextStep, ActionStartGuide
from tests.trackers import make_tracker, payloads, run_action


def selector(key: str) -> dict:
    return {"faq": {"response": {"intent_response_key": f"faq/{key}", "confidence": 0.9}}}


def test_after_an_faq_mid_guide_the_guide_resumes_at_the_same_step(conversation):
    conversation.turn(ActionStartGuide(), "forgot_password")
    conversation.turn(ActionHandleAnswer(), "affirm")
    for _ in range(3):
        conversation.turn(ActionNextStep(), "next_step")
    messages = conversation.turn(ActionResumeGuide(), "faq", response_selector=selector("code_expiry"))
    assert messages[0]["text"] == "Back to **Forgotten Password**, where we left off:"
    assert messages[1]["text"].startswith("Step 4 of 6: Enter the 5-minute-expiring code")
    assert payloads(messages) == ["/next_step", "/all_steps", "/step_failed"]
    assert conversation.slots["step_index"] == 3.0  # the FAQ did not move the guide


def test_after_an_faq_mid_question_the_question_is_asked_again(conversation):
    conversation.turn(ActionStartGuide(), "verification_failed")
    messages = conversation.turn(ActionResumeGuide(), "faq")
    assert "postmaster" in messages[-1]["text"]
    assert payloads(messages) == ['/inform_role{"role":"postmaster"}', '/inform_role{"role":"user"}']


def test_after_an_faq_without_a_guide_nothing_more_is_said():
    messages, events = run_action(ActionResumeGuide(), make_tracker("faq"))
    assert messages == [] and events == []
