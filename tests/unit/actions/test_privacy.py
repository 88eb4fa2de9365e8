"""actions/privacy.py with the ticket actions: in a group chat no ticket detail, email or description is
uttered for the group; where the channel can (Slack) it becomes a direct message, else (DingTalk) only a
notice, and no ticket is started there. Direct chats and channels that say nothing are unchanged."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.guide_actions import ActionHandleAnswer, ActionStartGuide, ActionStepFailed
from actions.privacy import NOTICE_SENT_DM, NOTICE_WRITE_DIRECTLY, in_group_chat, say_privately
from actions.ticket_actions import ActionStartTicket, ActionSubmitTicket, ActionTicketStatus, ticket_store
from actions.ticket_form import (
    ActionAskTicketConfirmed,
    ValidateTicketForm,
)
from core import phrases
from tests.trackers import DOMAIN, Conversation, make_tracker, run_action, texts

EMAIL = "jane@corp.example"
NOTE = "We reset your security settings."
TICKET_ID = re.compile(r"\bALM-\d{6}\b")
SLACK_GROUP = {"chat_type": "group", "dm_available": True}
DINGTALK_GROUP = {"chat_type": "group", "dm_available": False}
DIRECT = {"chat_type": "direct", "dm_available": False}


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("TICKETS_DB_URL", f"sqlite:///{tmp_path}/tickets.sqlite3")
    monkeypatch.delenv("TICKET_WEBHOOK_URL", raising=False)
    ticket_store.cache_clear()
    yield ticket_store()
    ticket_store.cache_clear()


def in_chat(tracker: Tracker, metadata: Dict[str, Any], channel: str = "dingtalk", sender: str = "staff42") -> Tracker:
    """The tracker's latest message came from a chat described by `metadata`, on `channel`."""
    tracker.latest_message["metadata"] = dict(metadata)
    for event in tracker.events:
        if event.get("event") == "user":
            event["input_channel"] = channel
    tracker.sender_id = sender
    return tracker


def group_texts(messages: List[Dict[str, Any]]) -> str:
    """Everything the group would read: the messages' texts and buttons, not the direct messages."""
    shown = [m.get("text") for m in messages] + [b.get("title") for m in messages for b in m.get("buttons") or []]
    return "\n".join(text for text in shown if text)


def direct_messages(messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [m["custom"]["direct_message"] for m in messages if (m.get("custom") or {}).get("direct_message")]


def open_ticket(channel: str, sender: str = "staff42") -> str:
    """A ticket opened in a direct chat, with a staff note; its id."""
    slots = {
        "problem": "forgot_password",
        "guide_stage": "done",
        "has_recovery": False,
        "contact_email": EMAIL,
        "ticket_confirmed": True,
        "ticket_request_id": "r1",
    }
    messages, _ = run_action(
        ActionSubmitTicket(), in_chat(make_tracker("affirm", slots=slots), DIRECT, channel, sender)
    )
    ticket_id = TICKET_ID.search(texts(messages)).group(0)
    ticket_store().comment(ticket_id, NOTE, author="pm")
    return ticket_id


def test_without_chat_metadata_a_chat_is_direct():
    assert not in_group_chat(make_tracker("ticket_status"))
    assert in_group_chat(in_chat(make_tracker("ticket_status"), DINGTALK_GROUP))
    tracker = make_tracker("ticket_status")
    tracker.latest_message["metadata"] = "group"  # not an object: ignored
    assert not in_group_chat(tracker)


@pytest.mark.parametrize("asked", [None, "mine", "ALM-999999"])
def test_ticket_status_in_a_dingtalk_group_is_only_a_notice(asked):
    ticket_id = open_ticket("dingtalk")
    value = {None: None, "mine": ticket_id, "ALM-999999": "ALM-999999"}[asked]
    entities = [{"entity": "ticket_id", "value": value}] if value else []
    tracker = in_chat(make_tracker("ticket_status", entities=entities), DINGTALK_GROUP)
    messages, events = run_action(ActionTicketStatus(), tracker)
    assert texts(messages) == phrases.say(NOTICE_WRITE_DIRECTLY, "en") and events == []
    assert direct_messages(messages) == []  # DingTalk can't send it privately: it is not sent at all


def test_ticket_status_in_a_slack_channel_goes_to_the_person_alone():
    ticket_id = open_ticket("slack", sender="U42")
    messages, _ = run_action(ActionTicketStatus(), in_chat(make_tracker("ticket_status"), SLACK_GROUP, "slack", "U42"))
    group = group_texts(messages)
    assert group == phrases.say(NOTICE_SENT_DM, "en")
    assert ticket_id not in group and NOTE not in group
    (direct,) = direct_messages(messages)
    assert ticket_id in direct["text"] and NOTE in direct["text"]


def test_ticket_status_in_a_direct_chat_is_unchanged():
    ticket_id = open_ticket("dingtalk")
    messages, _ = run_action(ActionTicketStatus(), in_chat(make_tracker("ticket_status"), DIRECT))
    assert ticket_id in texts(messages) and NOTE in texts(messages) and direct_messages(messages) == []


def test_no_ticket_is_started_in_a_dingtalk_group():
    messages, events = run_action(ActionStartTicket(), in_chat(make_tracker("open_ticket"), DINGTALK_GROUP))
    assert texts(messages) == phrases.say(NOTICE_WRITE_DIRECTLY, "en")
    # the rule would run the ticket form next: listening instead
    assert {"event": "followup", "name": "action_listen", "timestamp": None} in events
    assert not any(e.get("event") == "slot" and e.get("name") == "ticket_request_id" for e in events)


def test_yes_to_the_offer_in_a_dingtalk_group_starts_no_form():
    conversation = Conversation()
    conversation.turn(ActionStartGuide(), "eso_local_spam")
    conversation.turn(ActionStepFailed(), "step_failed")
    tracker = in_chat(make_tracker("affirm", slots=conversation.slots), DINGTALK_GROUP)
    messages, events = run_action(ActionHandleAnswer(), tracker)
    assert phrases.say(NOTICE_WRITE_DIRECTLY, "en") in texts(messages)
    followups = [e["name"] for e in events if e.get("event") == "followup"]
    assert followups == ["action_listen"]


def test_in_a_slack_channel_the_ticket_form_continues_in_a_direct_message():
    slots = {"problem": "forgot_password", "has_recovery": False, "contact_email": EMAIL, "language": "en"}
    notice = phrases.say(NOTICE_SENT_DM, "en")
    for action, tracker in [
        # the form's questions are responses: tests/unit/tools/test_sync_responses.py
        (ActionStartTicket(), make_tracker("open_ticket")),
        (ActionAskTicketConfirmed(), make_tracker("inform", slots=slots, text=EMAIL)),
    ]:
        messages, _ = run_action(action, in_chat(tracker, SLACK_GROUP, "slack", "U42"))
        assert group_texts(messages) == notice, action.name()
        (direct,) = direct_messages(messages)
        assert direct["text"]
    summary, _ = run_action(ActionAskTicketConfirmed(), in_chat(make_tracker("inform", slots=slots), SLACK_GROUP))
    (direct,) = direct_messages(summary)
    assert EMAIL in direct["text"] and [b["payload"] for b in direct["buttons"]] == ["/affirm", "/deny"]


def test_the_summary_and_the_confirmation_never_reach_a_dingtalk_group():
    slots = {
        "problem": "forgot_password",
        "has_recovery": False,
        "contact_email": EMAIL,
        "ticket_description": "My boss's mailbox was hacked",
        "ticket_confirmed": True,
        "ticket_request_id": "r9",
    }
    summary, _ = run_action(ActionAskTicketConfirmed(), in_chat(make_tracker("inform", slots=slots), DINGTALK_GROUP))
    confirmation, _ = run_action(ActionSubmitTicket(), in_chat(make_tracker("affirm", slots=slots), DINGTALK_GROUP))
    for messages in (summary, confirmation):
        text = json.dumps(messages)
        assert EMAIL not in text and "hacked" not in text and not TICKET_ID.search(text)
        assert texts(messages) == phrases.say(NOTICE_WRITE_DIRECTLY, "en")
    assert len(ticket_store().list()) == 1  # the confirmed ticket is opened all the same


def test_form_validation_in_a_group_does_not_echo_into_it():
    tracker = in_chat(make_tracker("inform", text="not an address"), DINGTALK_GROUP)
    dispatcher = CollectingDispatcher()
    ValidateTicketForm().validate_contact_email("not an address", dispatcher, tracker, DOMAIN)
    ValidateTicketForm().validate_ticket_description("x", dispatcher, tracker, DOMAIN)
    assert texts(dispatcher.messages) == phrases.say(NOTICE_WRITE_DIRECTLY, "en")  # one notice for the turn


def test_the_notice_is_said_once_per_turn_across_actions():
    tracker = in_chat(make_tracker("open_ticket"), SLACK_GROUP, "slack")
    tracker.events.append({"event": "bot", "text": phrases.say(NOTICE_SENT_DM, "zh")})
    messages, _ = run_action(ActionStartTicket(), tracker)
    assert group_texts(messages) == "" and len(direct_messages(messages)) == 1
    tracker.events.append({"event": "user", "text": "next turn"})
    messages, _ = run_action(ActionStartTicket(), tracker)
    assert group_texts(messages) == phrases.say(NOTICE_SENT_DM, "en")


def test_the_notice_follows_the_conversations_language():
    dispatcher = CollectingDispatcher()
    tracker = in_chat(make_tracker("ticket_status", slots={"language": "zh"}), DINGTALK_GROUP)
    say_privately(dispatcher, tracker, "私密内容")
    assert texts(dispatcher.messages) == phrases.say(NOTICE_WRITE_DIRECTLY, "zh")
