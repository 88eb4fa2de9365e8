"""actions/escalation_actions.py: a request for a person gets an honest answer and the ticket offer."""

from __future__ import annotations

from rasa_sdk import Tracker

from actions.escalation_actions import ActionRequestHuman
from actions.guide_actions import ActionHandleAnswer, ActionStartGuide
from tests.trackers import make_tracker, payloads, run_action, texts

HUMAN, ANSWER, START = ActionRequestHuman(), ActionHandleAnswer(), ActionStartGuide()


def test_no_live_chat_and_a_ticket_offer(conversation):
    messages = conversation.turn(HUMAN, "request_human", text="can I talk to a real person")
    assert "there is no live chat with a person here" in texts(messages)
    assert "open a support ticket" in texts(messages)
    assert payloads(messages) == ["/open_ticket", "/deny"]
    assert conversation.slots["pending_offer"] == "ticket"


def test_in_chinese(conversation):
    conversation.slots["language"] = "zh"
    messages = conversation.turn(HUMAN, "request_human", text="转人工")
    assert "这里没有人工在线客服" in texts(messages) and "提交工单" in texts(messages)
    assert [b["title"] for m in messages for b in m["buttons"]] == ["提交工单", "不用了，谢谢"]


def test_yes_opens_the_ticket_form(conversation):
    conversation.turn(HUMAN, "request_human")
    messages = conversation.turn(ANSWER, "affirm")
    assert "open a support ticket" in texts(messages)
    assert conversation.slots["pending_offer"] is None and conversation.slots["ticket_request_id"]


def test_no_goes_back_to_the_guide_in_progress(conversation):
    conversation.turn(START, "unusual_login_alerts")
    conversation.turn(HUMAN, "request_human")
    assert conversation.slots["problem"] == "unusual_login_alerts"
    messages = conversation.turn(ANSWER, "deny")
    assert "OK, no ticket." in texts(messages)
    assert messages[-1]["text"].startswith("Step 1 of 4")


def test_inside_the_ticket_form_the_form_goes_on():
    base = make_tracker("request_human", text="real human please")
    tracker = Tracker(
        sender_id=base.sender_id,
        slots=base.slots,
        latest_message=base.latest_message,
        events=base.events,
        paused=False,
        followup_action=None,
        active_loop={"name": "ticket_form"},
        latest_action_name="action_listen",
    )
    messages, events = run_action(HUMAN, tracker)
    assert "this ticket goes to people" in texts(messages)
    assert payloads(messages) == [] and events == []  # no second offer: the form asks its question again
