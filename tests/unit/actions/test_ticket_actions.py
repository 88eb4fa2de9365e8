"""actions/ticket_actions.py: starting, submitting and cancelling a ticket and asking its status, on a real
SQLite ticket store. (The form itself: test_ticket_form.py.)"""

from __future__ import annotations

import re

import pytest

from actions.guide_actions import ActionHandleAnswer, ActionStartGuide, ActionStepFailed
from actions.ticket_actions import (
    ActionCancelTicket,
    ActionStartTicket,
    ActionSubmitTicket,
    ActionTicketStatus,
    ticket_store,
)
from core.secrets import mask_secrets
from core.settings import get_settings
from core.ticket_draft import transcript
from tests.ticket_conversation import CONFIRMED
from tests.trackers import make_tracker, run_action, slots_after, texts

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


def test_secrets_are_masked_in_the_transcript():
    assert mask_secrets("my password is Hunter2!") == "my password is [hidden]"
    assert mask_secrets("pw: abc123") == "pw: [hidden]"
    assert mask_secrets("the code was 482913") == "the code was [hidden]"
    assert mask_secrets("ticket ALM-000042 please") == "ticket ALM-000042 please"
    lines = transcript(
        [
            {"event": "user", "text": "code 1234"},
            {"event": "bot", "text": "Enter the 6-digit code we sent within 10 minutes."},
            {"event": "action", "name": "x"},
            {"event": "user", "text": "我的密码是Abc12345，验证码 123 456"},
        ]
    )
    assert lines == [
        {"who": "user", "text": "code [hidden]"},
        {"who": "bot", "text": "Enter the 6-digit code we sent within 10 minutes."},
        {"who": "user", "text": "我的密码是[hidden]，验证码 [hidden]"},
    ]


def submit(slots, sender="alice", channel="rest"):
    tracker = with_channel(make_tracker("affirm", slots=slots), channel)
    tracker.sender_id = sender
    return run_action(ActionSubmitTicket(), tracker)


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
    get_settings.cache_clear()
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
