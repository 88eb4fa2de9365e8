"""core/ticket_draft.py: what a ticket says, derived from the guide state and the conversation."""

from __future__ import annotations

from typing import Any, Dict, List

from core.guide import GuideState
from core.knowledge import knowledge
from core.ticket_draft import (
    DEFAULT_PRIORITY,
    QUEUE_POSTMASTER,
    QUEUE_SUPPORT,
    default_description,
    is_postmaster,
    priority_for,
    priority_label,
    queue_for,
    queue_label,
    steps_tried,
    transcript,
)


def test_queue_follows_the_guide() -> None:
    assert queue_for(GuideState(problem="forgot_password", has_recovery=False)) == "postmaster"
    assert queue_for(GuideState(problem="forgot_password", has_recovery=True)) == "support"
    assert queue_for(GuideState(problem="verification_failed", role="user")) == "postmaster"
    assert queue_for(GuideState(problem="verification_failed", role="postmaster")) == "support"
    assert queue_for(GuideState(problem="eso_local_spam")) == "support"
    assert queue_for(GuideState()) == "support"


def test_steps_tried_lists_what_was_shown_and_what_failed() -> None:
    state = GuideState(problem="eso_local_spam", stage="steps", step_index=1, steps_failed=["eso_local_spam:step 2"])
    lines = steps_tried(knowledge(), state)
    assert lines[0].startswith("eso_local_spam step 1: Locate the original")
    assert lines[1].endswith("(failed)") and len(lines) == 2


def step(problem: str, number: int, role: str = "user") -> str:
    return knowledge().problem(problem).steps_for(role)[number - 1].text.get("en")


def test_steps_tried_after_the_verification_lists_every_step_and_the_failed_check() -> None:
    state = GuideState(
        problem="eso_local_spam", stage="verify", step_index=3, steps_failed=["eso_local_spam:verification"]
    )
    assert steps_tried(knowledge(), state) == [
        *(f"eso_local_spam step {n}: {step('eso_local_spam', n)}" for n in (1, 2, 3, 4)),
        "eso_local_spam verification: failed",
    ]


def test_steps_tried_follows_the_role_and_adds_failures_of_other_guides() -> None:
    state = GuideState(
        problem="verification_failed",
        stage="steps",
        step_index=0,
        role="postmaster",
        steps_failed=["forgot_password:step 3", "eso_local_spam"],
    )
    assert steps_tried(knowledge(), state) == [
        f"verification_failed step 1: {step('verification_failed', 1, 'postmaster')}",
        "forgot_password step 3 (failed)",
        "eso_local_spam (failed)",
    ]


def test_no_steps_are_listed_before_the_steps_or_without_a_recovery_option() -> None:
    kb = knowledge()
    assert steps_tried(kb, GuideState()) == []
    assert steps_tried(kb, GuideState(problem="forgot_password", stage="branch")) == []
    no_recovery = GuideState(
        problem="forgot_password", stage="done", has_recovery=False, steps_failed=["forgot_password"]
    )
    assert steps_tried(kb, no_recovery) == ["forgot_password (failed)"]  # the guide, none of its steps


def test_priority_is_the_guides_severity_in_english_and_labelled_per_language() -> None:
    kb = knowledge()
    assert [priority_for(kb, GuideState(problem=p.key)) for p in kb.problems] == [
        "High",
        "High",
        "Medium",
        "Medium",
        "Low",
    ]
    assert priority_for(kb, GuideState()) == DEFAULT_PRIORITY == "Medium"
    assert [priority_label(kb, word, "zh") for word in ("High", "Medium", "Low")] == ["高", "中", "低"]
    assert priority_label(kb, "High", "en") == "High"
    assert priority_label(kb, "Urgent", "zh") == "Urgent"  # not a severity word: shown as stored


def test_queue_labels() -> None:
    assert (queue_label(QUEUE_POSTMASTER, "zh"), queue_label(QUEUE_SUPPORT, "en")) == ("邮箱管理员", "support")
    assert queue_label("billing", "zh") == "billing"


def test_is_postmaster_is_unknown_until_the_role_is_asked() -> None:
    assert is_postmaster(GuideState(role="postmaster")) is True
    assert is_postmaster(GuideState(role="user")) is False
    assert is_postmaster(GuideState()) is None


def test_transcript_keeps_user_and_bot_messages_in_order_and_cuts_long_ones() -> None:
    events: List[Dict[str, Any]] = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "hello"},
        {"event": "bot", "text": "Hi! How can I help?"},
        {"event": "user", "text": None},
        {"event": "bot", "text": ""},  # buttons only
        {"event": "slot", "name": "problem", "value": "x"},
        {"event": "user", "text": "x" * 2500},
    ]
    lines = transcript(events)
    assert [line["who"] for line in lines] == ["user", "bot", "user"]
    assert lines[:2] == [{"who": "user", "text": "hello"}, {"who": "bot", "text": "Hi! How can I help?"}]
    assert lines[2]["text"] == "x" * 2000


def test_transcript_keeps_the_last_entries() -> None:
    events = [{"event": "user", "text": f"message {n}"} for n in range(10)]
    assert [line["text"] for line in transcript(events, limit=3)] == ["message 7", "message 8", "message 9"]


def test_default_description_says_what_the_conversation_established() -> None:
    kb = knowledge()
    assert default_description(kb, GuideState()) is None
    state = GuideState(problem="forgot_password", has_recovery=False, error_code="SpamDetected")
    assert default_description(kb, state, "en") == (
        "Self-help for 'Forgotten Password' did not solve the problem. Error code: SpamDetected. "
        "No secure phone number or security questions are set up."
    )
    assert default_description(kb, GuideState(problem="eso_local_spam"), "zh") == (
        "按“邮件因 ESO_LOCAL_SPAM 被退信”的自助步骤操作后，问题仍未解决。"
    )
