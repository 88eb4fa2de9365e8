"""actions/ticket_form.py: the ticket form's questions, its validation and the summary to confirm."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.ticket_form import (
    MAX_EML_ANSWER,
    ActionAskTicketConfirmed,
    ValidateTicketForm,
    clean_description,
    clean_email,
    clean_eml_answer,
    needed_slots,
    verified_email,
)
from tests.trackers import make_tracker, payloads, run_action, texts


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("jane.doe@corp.example", "jane.doe@corp.example"),
        ("my email is Bob@Corp.COM thanks", "Bob@corp.com"),
        ("<ops+mail@sub.corp.example>", "ops+mail@sub.corp.example"),
    ],
)
def test_valid_emails_are_kept(raw, clean):
    assert clean_email(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "jane",
        "jane@",
        "@corp.com",
        "jane@corp",
        "a@b.c",
        "jane@@corp.com",
        "x@y.com and z@w.com",
        None,
        42,
        "a" * 250 + "@corp.com",
    ],
)
def test_invalid_emails_are_refused(raw):
    assert clean_email(raw) is None


def test_description_needs_some_words():
    assert clean_description("  mails   bounce  ") == "mails bounce"
    assert clean_description("ok") is None
    assert clean_description("12345678") is None
    assert clean_description("x" * 5000) == "x" * 2000


def test_validation_re_asks_with_an_explanation():
    dispatcher = CollectingDispatcher()
    result = ValidateTicketForm().validate_contact_email("not-an-email", dispatcher, make_tracker("inform"), {})
    assert result == {"contact_email": None}
    assert "doesn't look like an email address" in dispatcher.messages[0]["text"]
    dispatcher = CollectingDispatcher()
    result = ValidateTicketForm().validate_contact_email("jane@corp.example", dispatcher, make_tracker("inform"), {})
    assert result == {"contact_email": "jane@corp.example"} and dispatcher.messages == []


def test_an_unrelated_question_instead_of_an_email_is_answered():
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("out_of_scope", text="what's the weather in hangzhou")
    result = ValidateTicketForm().validate_contact_email(tracker.latest_message["text"], dispatcher, tracker, {})
    assert result == {"contact_email": None}
    assert "outside what I can help with" in dispatcher.messages[0]["text"]


def test_the_form_asks_only_what_is_missing():
    assert needed_slots(make_tracker("open_ticket")) == ["contact_email", "ticket_description", "ticket_confirmed"]
    after_guide = make_tracker("open_ticket", slots={"problem": "forgot_password", "guide_stage": "steps"})
    assert needed_slots(after_guide) == ["contact_email", "ticket_confirmed"]
    spam = make_tracker("open_ticket", slots={"problem": "eso_local_spam", "guide_stage": "steps"})
    assert needed_slots(spam) == ["contact_email", "eml_delivery", "ticket_confirmed"]


def test_summary_shows_what_will_be_filed():
    slots = {
        "problem": "eso_local_spam",
        "guide_stage": "steps",
        "step_index": 1.0,
        "error_code": "ESO_LOCAL_SPAM",
        "steps_failed": ["eso_local_spam:step 2"],
        "contact_email": "jane@corp.example",
        "eml_delivery": "My administrator will send it",
    }
    messages, _ = run_action(ActionAskTicketConfirmed(), make_tracker("affirm", slots=slots))
    text = texts(messages)
    for fact in (
        "Mail bounced with ESO_LOCAL_SPAM",
        "Error code: ESO_LOCAL_SPAM",
        "jane@corp.example",
        "My administrator will send it",
        "support queue, priority Medium",
        "1 didn't work",
    ):
        assert fact in text
    assert payloads(messages) == ["/affirm", "/deny"]


def test_a_short_description_is_refused_with_the_minimum_named() -> None:
    dispatcher = CollectingDispatcher()
    result = ValidateTicketForm().validate_ticket_description("help", dispatcher, make_tracker("inform"), {})
    assert result == {"ticket_description": None}
    assert "at least 5 characters" in dispatcher.messages[0]["text"]
    dispatcher = CollectingDispatcher()
    result = ValidateTicketForm().validate_ticket_description(
        " mails\n bounce  since monday ", dispatcher, make_tracker("inform"), {}
    )
    assert result == {"ticket_description": "mails bounce since monday"} and dispatcher.messages == []


def test_the_eml_answer_is_any_text_within_the_limit() -> None:
    assert clean_eml_answer("  My administrator   will send it ") == "My administrator will send it"
    assert clean_eml_answer("x" * 600) == "x" * MAX_EML_ANSWER
    for blank in ("", "   ", None, 3):
        assert clean_eml_answer(blank) is None
    dispatcher = CollectingDispatcher()
    result = ValidateTicketForm().validate_eml_delivery(" ", dispatcher, make_tracker("inform", slots={}), {})
    assert result == {"eml_delivery": None}
    assert ".eml" in dispatcher.messages[0]["text"]


def test_validation_messages_follow_the_conversations_language() -> None:
    dispatcher = CollectingDispatcher()
    ValidateTicketForm().validate_contact_email(
        "不是邮箱", dispatcher, make_tracker("inform", slots={"language": "zh"}), {}
    )
    assert dispatcher.messages[0]["text"].startswith("这看起来不像邮箱地址")


def signed_in(email: object, slots: Optional[Dict[str, Any]] = None, channel: str = "socketio") -> Tracker:
    tracker = make_tracker("open_ticket", slots=slots)
    tracker.latest_message["metadata"] = {"verified_identity": {"email": email}}
    tracker.events[-1]["input_channel"] = channel
    return tracker


def test_a_verified_email_fills_the_slot_and_skips_the_question() -> None:
    form = ValidateTicketForm()
    dispatcher = CollectingDispatcher()
    assert verified_email(signed_in("Li.Wei@Corp.Example")) == "Li.Wei@corp.example"
    assert form.extract_contact_email(dispatcher, signed_in("li@corp.example"), {}) == {
        "contact_email": "li@corp.example"
    }
    # already answered, not verified, or not an address: the form asks as usual
    assert form.extract_contact_email(dispatcher, signed_in("li@corp.example", {"contact_email": "me@x.com"}), {}) == {}
    assert form.extract_contact_email(dispatcher, make_tracker("open_ticket"), {}) == {}
    assert form.extract_contact_email(dispatcher, signed_in("not an address"), {}) == {}
    assert dispatcher.messages == []


@pytest.mark.parametrize("channel", ["rest", "slack", "dingtalk", None])
def test_a_verified_identity_counts_only_from_the_web_chat(channel) -> None:
    """Any other channel's message with `verified_identity` metadata (a client's claim) is not verified."""
    tracker = signed_in("ceo@corp.example", channel=channel)
    assert verified_email(tracker) is None
    assert ValidateTicketForm().extract_contact_email(CollectingDispatcher(), tracker, {}) == {}


def test_the_form_asks_for_its_slots_in_order() -> None:
    tracker = make_tracker("open_ticket", slots={"problem": "marked_as_spam", "guide_stage": "verify"})
    slots = asyncio.run(ValidateTicketForm().required_slots([], CollectingDispatcher(), tracker, {}))
    assert slots == ["contact_email", "eml_delivery", "ticket_confirmed"]


def test_summary_without_a_guide_uses_the_typed_description_and_the_support_queue() -> None:
    slots = {"contact_email": "jane@corp.example", "ticket_description": "My signature vanished"}
    messages, _ = run_action(ActionAskTicketConfirmed(), make_tracker("inform", slots=slots))
    lines = texts(messages).splitlines()
    assert lines[1:4] == [
        "- Contact: jane@corp.example",
        "- Description: My signature vanished",
        "- Goes to: support queue, priority Medium",
    ]
    assert not any(line.startswith(("- Problem", "- Guide steps", "- .eml")) for line in lines)


def test_summary_in_chinese_names_the_role_queue_and_priority() -> None:
    slots = {
        "language": "zh",
        "problem": "verification_failed",
        "guide_stage": "done",
        "role": "user",
        "contact_email": "li@corp.example",
    }
    text = texts(run_action(ActionAskTicketConfirmed(), make_tracker("inform", slots=slots))[0])
    assert "- 您是普通用户" in text and "- 提交至：邮箱管理员 队列，优先级 高" in text
