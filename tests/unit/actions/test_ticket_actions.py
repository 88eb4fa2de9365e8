"""Unit tests for the ticket form and the ticket actions, on a real SQLite ticket store."""

from __future__ import annotations

import re

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.guide_actions import ActionHandleAnswer, ActionStartGuide, ActionStepFailed
from actions.ticket_actions import (
    ActionCancelTicket,
    ActionStartTicket,
    ActionSubmitTicket,
    ActionTicketStatus,
    ticket_store,
)
from actions.ticket_form import (
    ActionAskEmlDelivery,
    ActionAskTicketConfirmed,
    ValidateTicketForm,
    clean_description,
    clean_email,
    needed_slots,
)
from core.guide import GuideState
from core.knowledge import knowledge
from core.ticket_draft import mask_secrets, queue_for, steps_tried, transcript
from tests.trackers import make_tracker, payloads, run_action, slots_after, texts

TICKET_ID = re.compile(r"\bALM-\d{6}\b")


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("TICKETS_DB_URL", f"sqlite:///{tmp_path}/tickets.sqlite3")
    monkeypatch.delenv("TICKET_WEBHOOK_URL", raising=False)
    ticket_store.cache_clear()
    yield ticket_store()
    ticket_store.cache_clear()


def with_channel(tracker, channel="rest"):
    """The tracker's user messages came in through `channel`."""
    for event in tracker.events:
        if event.get("event") == "user":
            event["input_channel"] = channel
    return tracker


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
    assert len(clean_description("x" * 5000)) == 2000


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


def test_eml_question_offers_buttons():
    messages, _ = run_action(ActionAskEmlDelivery(), make_tracker("open_ticket"))
    assert ".eml" in messages[0]["text"]
    assert len(payloads(messages)) == 3


def test_queue_follows_the_guide():
    assert queue_for(GuideState(problem="forgot_password", has_recovery=False)) == "postmaster"
    assert queue_for(GuideState(problem="forgot_password", has_recovery=True)) == "support"
    assert queue_for(GuideState(problem="verification_failed", role="user")) == "postmaster"
    assert queue_for(GuideState(problem="verification_failed", role="postmaster")) == "support"
    assert queue_for(GuideState(problem="eso_local_spam")) == "support"
    assert queue_for(GuideState()) == "support"


def test_steps_tried_lists_what_was_shown_and_what_failed():
    state = GuideState(problem="eso_local_spam", stage="steps", step_index=1, steps_failed=["eso_local_spam:step 2"])
    lines = steps_tried(knowledge(), state)
    assert lines[0].startswith("eso_local_spam step 1: Locate the original")
    assert lines[1].endswith("(failed)") and len(lines) == 2


def test_secrets_are_masked_in_the_transcript():
    assert mask_secrets("my password is Hunter2!") == "my password is [hidden]"
    assert mask_secrets("pw: abc123") == "pw: [hidden]"
    assert mask_secrets("the code was 482913") == "the code was [hidden]"
    assert mask_secrets("ticket ALM-000042 please") == "ticket ALM-000042 please"
    lines = transcript(
        [{"event": "user", "text": "code 1234"}, {"event": "bot", "text": "ok"}, {"event": "action", "name": "x"}]
    )
    assert lines == [{"who": "user", "text": "code [hidden]"}, {"who": "bot", "text": "ok"}]


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


def submit(slots, sender="alice", channel="rest"):
    tracker = with_channel(make_tracker("affirm", slots=slots), channel)
    tracker.sender_id = sender
    return run_action(ActionSubmitTicket(), tracker)


CONFIRMED = {
    "problem": "forgot_password",
    "guide_stage": "done",
    "has_recovery": False,
    "contact_email": "jane@corp.example",
    "ticket_confirmed": True,
    "ticket_request_id": "r1",
}


def test_submit_stores_the_ticket_then_confirms_with_its_id(store):
    messages, events = submit(CONFIRMED)
    ticket_id = TICKET_ID.search(texts(messages)).group(0)
    ticket = store.get(ticket_id)
    assert (ticket.queue, ticket.priority, ticket.channel, ticket.sender_id) == ("postmaster", "High", "rest", "alice")
    assert ticket.contact_email == "jane@corp.example"
    assert "No secure phone number" in ticket.description
    assert "postmaster" in texts(messages)
    assert slots_after({}, events)["last_ticket_id"] == ticket_id


def test_confirming_twice_opens_one_ticket(store):
    first, _ = submit(CONFIRMED)
    second, _ = submit(CONFIRMED)
    assert TICKET_ID.search(texts(first)).group(0) == TICKET_ID.search(texts(second)).group(0)
    assert len(store.list()) == 1


def test_declined_summary_opens_nothing(store):
    messages, _ = submit(dict(CONFIRMED, ticket_confirmed=False))
    assert "haven't opened a ticket" in texts(messages)
    assert store.list() == []


def test_unreachable_database_gives_the_postmaster_route(monkeypatch):
    monkeypatch.setenv("TICKETS_DB_URL", "postgresql://postgres@127.0.0.1:1/test")
    ticket_store.cache_clear()
    messages, _ = submit(CONFIRMED)
    text = texts(messages)
    assert "can't reach the ticket system" in text and "postmaster" in text
    assert not TICKET_ID.search(text)


def test_status_lists_only_the_senders_own_tickets(store):
    mine, _ = submit(CONFIRMED, sender="alice")
    submit(dict(CONFIRMED, ticket_request_id="r2"), sender="bob")
    my_id = TICKET_ID.search(texts(mine)).group(0)
    store.comment(my_id, "We reset your security settings.", author="pm")
    tracker = with_channel(make_tracker("ticket_status"))
    tracker.sender_id = "alice"
    messages, _ = run_action(ActionTicketStatus(), tracker)
    text = texts(messages)
    assert my_id in text and "We reset your security settings." in text
    assert len(TICKET_ID.findall(text)) == 1


def test_status_of_someone_elses_ticket_is_not_found(store):
    theirs, _ = submit(CONFIRMED, sender="bob")
    their_id = TICKET_ID.search(texts(theirs)).group(0)
    answers = []
    for asked in (their_id, "ALM-999999"):
        tracker = with_channel(make_tracker("ticket_status", entities=[{"entity": "ticket_id", "value": asked}]))
        tracker.sender_id = "alice"
        messages, _ = run_action(ActionTicketStatus(), tracker)
        answers.append(texts(messages).replace(asked, "ID"))
    assert answers[0] == answers[1] and "couldn't find" in answers[0]


def test_same_sender_on_another_channel_sees_nothing(store):
    submit(CONFIRMED, sender="alice", channel="rest")
    tracker = with_channel(make_tracker("ticket_status"), channel="slack")
    tracker.sender_id = "alice"
    messages, _ = run_action(ActionTicketStatus(), tracker)
    assert "haven't opened any tickets" in texts(messages)


def test_start_and_cancel():
    messages, events = run_action(ActionStartTicket(), make_tracker("open_ticket"))
    assert "open a support ticket" in texts(messages)
    assert slots_after({}, events)["ticket_request_id"]
    messages, events = run_action(ActionCancelTicket(), make_tracker("stop"))
    assert "cancelled" in texts(messages)
    assert {"event": "active_loop", "name": None, "timestamp": None} in events


def test_yes_to_the_offer_starts_the_form(conversation):
    conversation.turn(ActionStartGuide(), "eso_local_spam")
    conversation.turn(ActionStepFailed(), "step_failed")
    tracker = make_tracker("affirm", slots=conversation.slots)
    messages, events = run_action(ActionHandleAnswer(), tracker)
    assert "open a support ticket" in texts(messages)
    assert {"event": "followup", "name": "ticket_form", "timestamp": None} in events
