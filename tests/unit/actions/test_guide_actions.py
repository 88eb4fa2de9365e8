"""Unit tests for the guide actions: every branch of every guide, driven through the real actions."""

from __future__ import annotations

import re

import pytest

from actions.guide_actions import (
    ActionHandleAnswer,
    ActionNextStep,
    ActionShowAllSteps,
    ActionStartGuide,
    ActionStepFailed,
    ActionStopGuide,
)
from core.knowledge import knowledge
from tests.trackers import make_tracker, payloads, run_action, slots_after, texts

START, NEXT, ALL, FAILED, ANSWER, STOP = (
    ActionStartGuide(),
    ActionNextStep(),
    ActionShowAllSteps(),
    ActionStepFailed(),
    ActionHandleAnswer(),
    ActionStopGuide(),
)
TICKET_ID_OR_NUMBER = re.compile(r"ALM-\d+|ticket (?:number|id)\s*[:#]?\s*\d", re.I)


def step_texts(problem_key, role="user"):
    return [s.text.get("en") for s in knowledge().problem(problem_key).steps_for(role)]


@pytest.mark.parametrize("problem", [p.key for p in knowledge().problems])
def test_start_says_the_likely_cause_first(problem):
    messages, events = run_action(START, make_tracker(problem))
    kb_problem = knowledge().problem(problem)
    assert kb_problem.likely_cause.get("en") in messages[0]["text"]
    slots = slots_after({}, events)
    assert slots["problem"] == problem
    assert slots["step_index"] == 0.0


def test_forgot_password_asks_about_recovery_options_with_buttons(conversation):
    messages = conversation.turn(START, "forgot_password")
    assert "secure phone number" in messages[-1]["text"]
    assert payloads(messages) == ["/affirm", "/deny"]
    assert conversation.slots["guide_stage"] == "branch"


def test_forgot_password_with_recovery_walks_every_step_then_verifies(conversation):
    conversation.turn(START, "forgot_password")
    shown = [conversation.turn(ANSWER, "affirm")[0]["text"]]
    for _ in range(5):
        shown.append(conversation.turn(NEXT, "next_step")[0]["text"])
    for number, (text, step) in enumerate(zip(shown, step_texts("forgot_password")), start=1):
        assert text == f"Step {number} of 6: {step}"
    verification = conversation.turn(NEXT, "next_step")
    assert "After reset, log in successfully using the new password" in verification[0]["text"]
    assert "Did it work?" in verification[0]["text"]
    assert payloads(verification) == ["/affirm", "/deny"]
    done = conversation.turn(ANSWER, "affirm")
    assert "glad" in texts(done)
    assert conversation.slots["guide_stage"] == "done"


def test_forgot_password_without_recovery_explains_and_offers_escalation(conversation):
    conversation.turn(START, "forgot_password")
    messages = conversation.turn(ANSWER, "deny")
    text = texts(messages)
    assert "can't reset the password yourself" in text
    assert knowledge().faq("reset_without_recovery").answer.get("en") in text
    assert "/open_ticket" in payloads(messages)
    assert conversation.slots["pending_offer"] == "ticket"
    assert conversation.slots["has_recovery"] is False


def test_branch_question_is_repeated_when_the_answer_does_not_fit(conversation):
    conversation.turn(START, "verification_failed")
    messages = conversation.turn(ANSWER, "affirm")
    assert "pick one of the options" in texts(messages)
    assert conversation.slots["guide_stage"] == "branch"


def test_verification_failed_for_a_postmaster_gives_console_steps(conversation):
    messages = conversation.turn(START, "verification_failed")
    assert payloads(messages) == ['/inform_role{"role":"postmaster"}', '/inform_role{"role":"user"}']
    messages = conversation.turn(ANSWER, "inform_role", entities=[{"entity": "role", "value": "postmaster"}])
    assert step_texts("verification_failed", "postmaster")[0] in texts(messages)
    for _ in range(3):
        conversation.turn(NEXT, "next_step")
    assert "Reset Security Settings" in conversation.sent[-1]["text"]
    verification = conversation.turn(NEXT, "next_step")
    assert "New security questions and phone number take effect immediately" in texts(verification)


def test_verification_failed_for_a_regular_user_escalates(conversation):
    conversation.turn(START, "verification_failed")
    messages = conversation.turn(ANSWER, "inform_role", entities=[{"entity": "role", "value": "user"}])
    text = texts(messages)
    assert knowledge().faq("locked_out_new_country").answer.get("en") in text
    for step in step_texts("verification_failed", "user"):
        assert step in text
    assert "Reset Security Settings" not in text  # console steps are for postmasters
    assert conversation.slots["pending_offer"] == "ticket"


def test_eso_local_spam_warns_against_resending_and_explains_eml(conversation):
    messages = conversation.turn(
        START, "eso_local_spam", entities=[{"entity": "error_code", "value": "eso local spam"}]
    )
    text = texts(messages)
    assert "Do not resend the same email repeatedly" in text
    assert "`.eml` file" in text
    assert messages[-1]["text"].startswith("Step 1 of 4: Locate the original `.eml` file")
    assert conversation.slots["error_code"] == "ESO_LOCAL_SPAM"


def test_a_pasted_error_code_picks_the_problem(conversation):
    messages = conversation.turn(START, "unknown_intent", entities=[{"entity": "error_code", "value": "SpamDetected"}])
    assert conversation.slots["problem"] == "marked_as_spam"
    assert knowledge().faq("legit_mail_blocked").answer.get("en") in texts(messages)


def test_unusual_login_alerts_say_critical_alerts_stay_on(conversation):
    messages = conversation.turn(START, "unusual_login_alerts")
    assert "critical alerts (e.g., password changes, 2FA prompts) cannot be turned off" in texts(messages)
    assert "Step 1 of 4" in messages[-1]["text"]


def test_all_steps_lists_the_remaining_steps_and_verification(conversation):
    conversation.turn(START, "marked_as_spam")
    conversation.turn(NEXT, "next_step")
    messages = conversation.turn(ALL, "all_steps")
    text = texts(messages)
    steps = step_texts("marked_as_spam")
    assert steps[0] not in text  # already done
    for n, step in enumerate(steps[1:], start=2):
        assert f"{n}. {step}" in text
    assert "Did it work?" in text
    assert conversation.slots["guide_stage"] == "verify"


def test_all_steps_before_the_branch_answer_asks_the_question_again(conversation):
    conversation.turn(START, "forgot_password")
    messages = conversation.turn(ALL, "all_steps")
    assert "First I need one answer" in texts(messages)
    assert payloads(messages) == ["/affirm", "/deny"]


@pytest.mark.parametrize("action,intent", [(NEXT, "next_step"), (ALL, "all_steps")])
def test_navigation_without_a_guide_says_so(action, intent):
    messages, events = run_action(action, make_tracker(intent))
    assert "not in the middle of a guide" in texts(messages)


def test_a_failed_step_is_recorded_and_escalation_offered(conversation):
    conversation.turn(START, "eso_local_spam")
    conversation.turn(NEXT, "next_step")
    messages = conversation.turn(FAILED, "step_failed")
    assert "step 2 didn't work" in texts(messages)
    assert payloads(messages) == ["/open_ticket", "/deny"]
    assert conversation.slots["steps_failed"] == ["eso_local_spam:step 2"]
    assert conversation.slots["pending_offer"] == "ticket"


def test_accepting_the_offer_starts_the_ticket_form(conversation):
    conversation.turn(START, "eso_local_spam", entities=[{"entity": "error_code", "value": "ESO_LOCAL_SPAM"}])
    conversation.turn(FAILED, "step_failed")
    messages = conversation.turn(ANSWER, "affirm")
    assert "open a support ticket" in texts(messages)
    assert not TICKET_ID_OR_NUMBER.search(texts(messages))  # no id before anything is stored
    assert conversation.slots["pending_offer"] is None
    assert conversation.slots["ticket_request_id"]
    assert conversation.slots["steps_failed"] == ["eso_local_spam:step 1"]


def test_declining_the_offer_returns_to_the_step(conversation):
    conversation.turn(START, "unusual_login_alerts")
    conversation.turn(FAILED, "step_failed")
    messages = conversation.turn(ANSWER, "deny")
    assert "OK, no ticket." in texts(messages)
    assert messages[-1]["text"].startswith("Step 1 of 4")


def test_verification_no_offers_escalation(conversation):
    conversation.turn(START, "unusual_login_alerts")
    conversation.turn(ALL, "all_steps")
    messages = conversation.turn(ANSWER, "deny")
    assert "/open_ticket" in payloads(messages)
    assert conversation.slots["steps_failed"] == ["unusual_login_alerts:verification"]


def test_yes_during_steps_moves_on_and_no_explains(conversation):
    conversation.turn(START, "unusual_login_alerts")
    assert conversation.turn(ANSWER, "affirm")[0]["text"].startswith("Step 2 of 4")
    messages = conversation.turn(ANSWER, "deny")
    assert "It didn't work" in messages[0]["text"]
    assert messages[-1]["text"].startswith("Step 2 of 4")


def test_switching_topic_mid_guide_starts_the_new_guide(conversation):
    conversation.turn(START, "marked_as_spam")
    conversation.turn(NEXT, "next_step")
    conversation.turn(FAILED, "step_failed")
    messages = conversation.turn(START, "unusual_login_alerts")
    assert conversation.slots["problem"] == "unusual_login_alerts"
    assert conversation.slots["step_index"] == 0.0
    assert conversation.slots["pending_offer"] is None
    assert conversation.slots["steps_failed"] == ["marked_as_spam:step 2"]  # kept for a ticket
    assert messages[-1]["text"].startswith("Step 1 of 4")


def test_stop_leaves_the_guide(conversation):
    conversation.turn(START, "marked_as_spam")
    messages = conversation.turn(STOP, "stop")
    assert "stopped" in texts(messages)
    assert conversation.slots["problem"] is None
    assert conversation.slots["guide_stage"] is None
    messages = conversation.turn(NEXT, "next_step")
    assert "not in the middle of a guide" in texts(messages)


def test_stop_without_a_guide():
    messages, _ = run_action(STOP, make_tracker("stop"))
    assert "anything else" in texts(messages)


def test_yes_with_nothing_asked():
    messages, _ = run_action(ANSWER, make_tracker("affirm"))
    assert "What can I help you with?" in texts(messages)


def test_step_failed_without_a_guide_still_offers_escalation():
    messages, events = run_action(FAILED, make_tracker("step_failed"))
    assert "/open_ticket" in payloads(messages)
    assert slots_after({}, events)["pending_offer"] == "ticket"


def test_a_guide_in_chinese_from_the_knowledge_file() -> None:
    messages, _ = run_action(
        ActionStartGuide(), make_tracker("forgot_password", slots={"language": "zh"}, text="忘记密码了")
    )
    said = texts(messages)
    assert "忘记密码" in said and "Forgot" not in said
    buttons = [b["title"] for m in messages for b in m.get("buttons") or []]
    assert buttons and all(any("\u4e00" <= ch <= "\u9fff" for ch in title) for title in buttons)
