"""core/guide.py: the guide's state machine (start, steps, branch questions, verification, failures, stop),
driven directly on the real knowledge file without Rasa."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from core import guide
from core.guide import GuideState, Reply
from core.knowledge import Branch, Knowledge, knowledge

EN = "en"


@pytest.fixture(scope="module")
def kb() -> Knowledge:
    return knowledge()


def payloads(reply: Reply) -> List[str]:
    return [b["payload"] for m in reply.messages for b in m.get("buttons") or []]


def texts(reply: Reply) -> List[str]:
    return [m["text"] for m in reply.messages]


def step_text(kb: Knowledge, problem: str, index: int, role: str = "user") -> str:
    return kb.problem(problem).steps_for(role)[index].text.get(EN)


def branch_of(kb: Knowledge, problem: str) -> Branch:
    branch = kb.problem(problem).branch
    assert branch is not None
    return branch


STEP_BUTTONS = ["/next_step", "/all_steps", "/step_failed"]
OFFER_BUTTONS = ["/open_ticket", "/deny"]


def at_step(problem: str, index: int, **changes: Any) -> GuideState:
    values: Dict[str, Any] = dict(problem=problem, stage=guide.STAGE_STEPS, step_index=index)
    values.update(changes)
    return GuideState(**values)


# --- state ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "state, active",
    [
        (GuideState(), False),
        (GuideState(problem="eso_local_spam"), False),
        (GuideState(problem="eso_local_spam", stage="branch"), True),
        (GuideState(problem="eso_local_spam", stage="steps"), True),
        (GuideState(problem="eso_local_spam", stage="verify"), True),
        (GuideState(problem="eso_local_spam", stage="done"), False),
        (GuideState(stage="steps"), False),
    ],
)
def test_a_guide_is_active_while_it_waits_for_the_user(state: GuideState, active: bool) -> None:
    assert state.active is active


# --- start ---------------------------------------------------------------------------------------
def test_start_without_a_branch_gives_cause_notes_explanation_then_step_one(kb: Knowledge) -> None:
    problem = kb.problem("eso_local_spam")
    reply = guide.start(kb, "eso_local_spam", GuideState(), EN, error_code="eso local spam")
    intro, step = texts(reply)
    assert intro.startswith(f"**{problem.title.get(EN)}**\nLikely cause: {problem.likely_cause.get(EN)}")
    assert f"⚠️ {problem.notes[0].get(EN)}" in intro
    assert problem.explanation is not None and intro.endswith(problem.explanation.get(EN))
    assert step == f"Step 1 of 4: {step_text(kb, 'eso_local_spam', 0)}"
    assert payloads(reply) == STEP_BUTTONS
    assert reply.state == GuideState(problem="eso_local_spam", stage="steps", step_index=0, error_code="ESO_LOCAL_SPAM")


def test_start_with_an_intro_faq_quotes_its_answer(kb: Knowledge) -> None:
    reply = guide.start(kb, "marked_as_spam", GuideState(), EN)
    assert kb.faq("legit_mail_blocked").answer.get(EN) in reply.messages[0]["text"]


def test_restart_keeps_the_failures_and_the_known_error_code_and_forgets_the_rest(kb: Knowledge) -> None:
    before = GuideState(
        problem="forgot_password",
        stage="done",
        step_index=3,
        role="postmaster",
        has_recovery=False,
        pending_offer="ticket",
        error_code="SpamDetected",
        steps_failed=["forgot_password:step 4"],
    )
    reply = guide.start(kb, "marked_as_spam", before, EN)
    assert reply.state == GuideState(
        problem="marked_as_spam",
        stage="steps",
        step_index=0,
        error_code="SpamDetected",
        steps_failed=["forgot_password:step 4"],
    )
    assert guide.start(kb, "marked_as_spam", GuideState(), EN, error_code="NOT_A_CODE").state.error_code is None


def test_start_with_a_branch_asks_its_question_first(kb: Knowledge) -> None:
    branch = branch_of(kb, "forgot_password")
    reply = guide.start(kb, "forgot_password", GuideState(), EN)
    assert reply.state.stage == guide.STAGE_BRANCH
    assert reply.messages[-1]["text"] == branch.question.get(EN)
    assert reply.messages[-1]["buttons"] == [
        {"title": branch.labels["yes"].get(EN), "payload": "/affirm"},
        {"title": branch.labels["no"].get(EN), "payload": "/deny"},
    ]


def test_a_role_question_offers_the_two_roles(kb: Knowledge) -> None:
    reply = guide.start(kb, "verification_failed", GuideState(), EN)
    assert payloads(reply) == ['/inform_role{"role":"postmaster"}', '/inform_role{"role":"user"}']


def test_the_guide_speaks_the_conversations_language(kb: Knowledge) -> None:
    reply = guide.start(kb, "eso_local_spam", GuideState(), "zh")
    step = kb.problem("eso_local_spam").steps[0].text.get("zh")
    assert reply.messages[1]["text"] == f"第 1 步（共 4 步）：{step}"
    assert [b["title"] for b in reply.messages[1]["buttons"]] == ["完成，下一步", "显示全部步骤", "没用"]


# --- steps and verification ------------------------------------------------------------------------
def test_next_step_moves_one_step_and_clears_an_open_offer(kb: Knowledge) -> None:
    reply = guide.next_step(kb, at_step("eso_local_spam", 1, pending_offer="ticket"), EN)
    assert texts(reply) == [f"Step 3 of 4: {step_text(kb, 'eso_local_spam', 2)}"]
    assert reply.state == at_step("eso_local_spam", 2)
    last = guide.next_step(kb, reply.state, EN)  # the last step is a step too, before the verification
    assert texts(last) == [f"Step 4 of 4: {step_text(kb, 'eso_local_spam', 3)}"]
    assert last.state == at_step("eso_local_spam", 3)


def test_after_the_last_step_comes_the_verification(kb: Knowledge) -> None:
    problem = kb.problem("forgot_password")
    reply = guide.next_step(kb, at_step("forgot_password", 5, has_recovery=True), EN)
    assert reply.state.stage == guide.STAGE_VERIFY and reply.state.step_index == 5
    text = reply.messages[0]["text"]
    assert text.startswith("Now check that it worked:\n")
    for check in problem.verification_checks:
        assert f"- {check.get(EN)}" in text
    assert problem.verification_expected is not None
    assert f"Expected: {problem.verification_expected.get(EN)}" in text
    assert text.endswith("\n\nDid it work?")
    assert payloads(reply) == ["/affirm", "/deny"]


def test_a_verification_without_an_expected_result_leaves_that_line_out(kb: Knowledge) -> None:
    reply = guide.next_step(kb, at_step("marked_as_spam", 4), EN)
    assert "Expected:" not in reply.messages[0]["text"]


def test_next_step_without_a_guide_says_so_and_changes_nothing(kb: Knowledge) -> None:
    state = GuideState(steps_failed=["x:step 1"])
    reply = guide.next_step(kb, state, EN)
    assert texts(reply) == [kb.phrases["no_guide_running"].get(EN)] and reply.state == state


def test_next_step_during_a_branch_question_repeats_the_question(kb: Knowledge) -> None:
    state = GuideState(problem="forgot_password", stage="branch")
    reply = guide.next_step(kb, state, EN)
    assert reply.state == state and payloads(reply) == ["/affirm", "/deny"]


def test_all_steps_lists_the_remaining_ones_then_the_verification(kb: Knowledge) -> None:
    reply = guide.all_steps(kb, at_step("eso_local_spam", 1), EN)
    listing, verification = texts(reply)
    assert listing.splitlines() == ["All steps for **Mail bounced with ESO_LOCAL_SPAM**:"] + [
        f"{n}. {step_text(kb, 'eso_local_spam', n - 1)}" for n in (2, 3, 4)
    ]
    assert verification.startswith("Now check that it worked:")
    assert reply.state == GuideState(problem="eso_local_spam", stage="verify", step_index=3)


def test_all_steps_in_the_verification_repeats_only_the_verification(kb: Knowledge) -> None:
    state = GuideState(problem="eso_local_spam", stage="verify", step_index=3)
    reply = guide.all_steps(kb, state, EN)
    assert len(reply.messages) == 1 and reply.messages[0]["text"].startswith("Now check that it worked:")


def test_all_steps_before_the_branch_answer_asks_first(kb: Knowledge) -> None:
    state = GuideState(problem="verification_failed", stage="branch")
    reply = guide.all_steps(kb, state, EN)
    assert texts(reply)[0] == "First I need one answer from you:" and reply.state == state


def test_all_steps_without_a_guide(kb: Knowledge) -> None:
    assert texts(guide.all_steps(kb, GuideState(), EN)) == [kb.phrases["no_guide_running"].get(EN)]


# --- branch answers ------------------------------------------------------------------------------
def test_with_a_recovery_option_the_steps_begin(kb: Knowledge) -> None:
    reply = guide.answer(kb, GuideState(problem="forgot_password", stage="branch"), EN, "affirm")
    assert reply.state == GuideState(problem="forgot_password", stage="steps", step_index=0, has_recovery=True)
    assert texts(reply) == [f"Step 1 of 6: {step_text(kb, 'forgot_password', 0)}"]


def test_without_a_recovery_option_the_guide_ends_with_a_ticket_offer(kb: Knowledge) -> None:
    reply = guide.answer(kb, GuideState(problem="forgot_password", stage="branch"), EN, "deny")
    assert reply.state == GuideState(
        problem="forgot_password", stage="done", has_recovery=False, pending_offer=guide.OFFER_TICKET
    )
    text = reply.messages[0]["text"]
    assert text.startswith(kb.phrases["no_self_service"].get(EN))
    assert kb.faq(branch_of(kb, "forgot_password").faqs["no"]).answer.get(EN) in text
    assert text.endswith(kb.phrases["offer_escalation"].get(EN))
    assert payloads(reply) == OFFER_BUTTONS


@pytest.mark.parametrize("problem, intent", [("forgot_password", "greet"), ("verification_failed", "affirm")])
def test_an_answer_that_does_not_fit_repeats_the_question(kb: Knowledge, problem: str, intent: str) -> None:
    state = GuideState(problem=problem, stage="branch")
    reply = guide.answer(kb, state, EN, intent)
    assert texts(reply)[0] == kb.phrases["please_choose"].get(EN)
    assert texts(reply)[1] == branch_of(kb, problem).question.get(EN)
    assert reply.state == state


def test_a_postmaster_gets_the_console_steps(kb: Knowledge) -> None:
    state = GuideState(problem="verification_failed", stage="branch")
    reply = guide.answer(kb, state, EN, "inform_role", role="postmaster")
    assert texts(reply) == [
        kb.phrases["postmaster_steps_intro"].get(EN),
        f"Step 1 of 4: {step_text(kb, 'verification_failed', 0, 'postmaster')}",
    ]
    assert reply.state == GuideState(problem="verification_failed", stage="steps", role="postmaster")


def test_a_regular_user_gets_the_user_steps_at_once_and_a_ticket_offer(kb: Knowledge) -> None:
    state = GuideState(problem="verification_failed", stage="branch")
    reply = guide.answer(kb, state, EN, "inform_role", role="user")
    lines = reply.messages[0]["text"].splitlines()
    user_steps = [f"{n}. {step_text(kb, 'verification_failed', n - 1, 'user')}" for n in (1, 2, 3)]
    assert lines[-5:] == user_steps + ["", kb.phrases["offer_escalation"].get(EN)]
    assert reply.state == GuideState(
        problem="verification_failed", stage="done", role="user", pending_offer=guide.OFFER_TICKET
    )


# --- answers during steps and verification ---------------------------------------------------------
def test_yes_during_the_steps_is_next_step_and_no_explains(kb: Knowledge) -> None:
    state = at_step("eso_local_spam", 0)
    assert guide.answer(kb, state, EN, "affirm").state == at_step("eso_local_spam", 1)
    reply = guide.answer(kb, state, EN, "deny")
    assert texts(reply) == [
        kb.phrases["step_no_unclear"].get(EN),
        f"Step 1 of 4: {step_text(kb, 'eso_local_spam', 0)}",
    ]
    assert reply.state == state


def test_a_role_named_during_the_steps_is_noted(kb: Knowledge) -> None:
    reply = guide.answer(kb, at_step("eso_local_spam", 2), EN, "inform_role", role="postmaster")
    assert texts(reply)[0] == "Noted, thanks." and reply.state.role == "postmaster"
    assert reply.state.step_index == 2


def test_yes_at_the_verification_ends_the_guide(kb: Knowledge) -> None:
    reply = guide.answer(kb, GuideState(problem="eso_local_spam", stage="verify", step_index=3), EN, "affirm")
    assert texts(reply) == [kb.phrases["glad_it_worked"].get(EN)]
    assert reply.state.stage == guide.STAGE_DONE and not reply.state.active


def test_no_at_the_verification_records_it_and_offers_a_ticket(kb: Knowledge) -> None:
    reply = guide.answer(kb, GuideState(problem="eso_local_spam", stage="verify", step_index=3), EN, "deny")
    assert reply.state.steps_failed == ["eso_local_spam:verification"]
    assert reply.state.pending_offer == guide.OFFER_TICKET and payloads(reply) == OFFER_BUTTONS


def test_the_ticket_offer_takes_the_yes_or_no(kb: Knowledge) -> None:
    offered = at_step("eso_local_spam", 1, pending_offer=guide.OFFER_TICKET)
    accepted = guide.answer(kb, offered, EN, "affirm")
    assert accepted.messages == [] and accepted.state == at_step("eso_local_spam", 1)  # the caller opens it
    declined = guide.answer(kb, offered, EN, "deny")
    assert texts(declined) == ["OK, no ticket.", f"Step 2 of 4: {step_text(kb, 'eso_local_spam', 1)}"]
    assert declined.state == at_step("eso_local_spam", 1)


def test_answers_without_a_guide(kb: Knowledge) -> None:
    role = guide.answer(kb, GuideState(), EN, "inform_role", role="postmaster")
    assert texts(role) == ["Noted, thanks."] and role.state == GuideState(role="postmaster")
    other = guide.answer(kb, GuideState(), EN, "affirm")
    assert texts(other) == [kb.phrases["no_question_pending"].get(EN)] and other.state == GuideState()


# --- failures and stop ---------------------------------------------------------------------------
def test_a_failed_step_is_recorded_once_and_a_ticket_offered(kb: Knowledge) -> None:
    reply = guide.step_failed(kb, at_step("eso_local_spam", 1, steps_failed=["forgot_password:step 2"]), EN)
    assert texts(reply) == ["Sorry that step 2 didn't work for you.\n\n" + kb.phrases["offer_escalation"].get(EN)]
    assert reply.state.steps_failed == ["forgot_password:step 2", "eso_local_spam:step 2"]
    assert reply.state.pending_offer == guide.OFFER_TICKET and payloads(reply) == OFFER_BUTTONS
    again = guide.step_failed(kb, reply.state, EN)
    assert again.state.steps_failed == reply.state.steps_failed


def test_a_failure_after_the_guide_ended_names_the_guide(kb: Knowledge) -> None:
    state = GuideState(problem="forgot_password", stage="done", has_recovery=False)
    reply = guide.step_failed(kb, state, EN)
    assert reply.state.steps_failed == ["forgot_password"]
    assert texts(reply)[0].startswith("Sorry that it didn't work for you.")


def test_a_failure_without_any_guide_still_offers_a_ticket(kb: Knowledge) -> None:
    reply = guide.step_failed(kb, GuideState(), EN)
    assert texts(reply) == ["Sorry that it didn't work.\n\n" + kb.phrases["offer_escalation"].get(EN)]
    assert reply.state == GuideState(pending_offer=guide.OFFER_TICKET)


def test_stop_forgets_the_guide_but_keeps_failures_and_error_code(kb: Knowledge) -> None:
    state = at_step("eso_local_spam", 2, error_code="ESO_LOCAL_SPAM", steps_failed=["eso_local_spam:step 1"])
    reply = guide.stop(state, EN)
    assert texts(reply) == [kb.phrases["stopped"].get(EN)]
    assert reply.state == GuideState(error_code="ESO_LOCAL_SPAM", steps_failed=["eso_local_spam:step 1"])
    assert texts(guide.stop(GuideState(), EN)) == [kb.phrases["nothing_to_stop"].get(EN)]


# --- resuming ------------------------------------------------------------------------------------
def test_current_prompt_is_what_the_guide_waits_for(kb: Knowledge) -> None:
    assert guide.current_prompt(kb, GuideState(), EN) == []
    assert guide.current_prompt(kb, GuideState(problem="eso_local_spam", stage="done"), EN) == []
    branch = guide.current_prompt(kb, GuideState(problem="forgot_password", stage="branch"), EN)
    assert branch[0]["text"] == branch_of(kb, "forgot_password").question.get(EN)
    step = guide.current_prompt(kb, at_step("eso_local_spam", 3), EN)
    assert step[0]["text"] == f"Step 4 of 4: {step_text(kb, 'eso_local_spam', 3)}"
    verify = guide.current_prompt(kb, GuideState(problem="eso_local_spam", stage="verify"), EN)
    assert verify[0]["text"].endswith("Did it work?")
