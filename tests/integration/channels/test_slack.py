"""channels/slack.py's replies (SlackApiBot), posted to a local fake Slack Web API: paragraphs in mrkdwn,
Block Kit buttons, the configured channel and thread, refused and rate-limited posts, and direct messages
(what the ticket actions send to the person alone from a channel)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Iterator, Optional, Tuple

import pytest

from channels.slack import MAX_BUTTON_TEXT, MAX_SECTION_TEXT, SlackApiBot
from tests.fake_http import RecordingServer

TOKEN = "xoxb-integration-test"


def opened_with(record: Dict[str, Any]) -> str:
    """The `users` of a conversations.open call (slack_sdk sends it in the query string)."""
    return (record["body"] or {}).get("users") or record["query"].get("users", [""])[0]


def slack_answer(record: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
    if record["path"].endswith("/conversations.open"):
        return 200, {"ok": True, "channel": {"id": "D" + opened_with(record)}}
    return 200, {"ok": True, "channel": (record["json"] or {}).get("channel"), "ts": "1.0"}


@pytest.fixture
def fake_slack() -> Iterator[RecordingServer]:
    server = RecordingServer(responder=slack_answer)
    yield server
    server.close()


def bot_for(
    server: RecordingServer, channel: Optional[str] = None, thread_id: Optional[str] = None, user: Optional[str] = None
) -> SlackApiBot:
    return SlackApiBot(TOKEN, channel, thread_id, base_url=f"{server.url}/api/", user_id=user)


def test_text_is_posted_per_paragraph_in_mrkdwn_without_as_user(fake_slack):
    asyncio.run(bot_for(fake_slack).send_text_message("D1", "**Step 1**: open settings\n\n  \n\nThen *save*."))
    posts = fake_slack.snapshot()
    assert [post["path"] for post in posts] == ["/api/chat.postMessage"] * 2
    assert [post["json"] for post in posts] == [
        {"channel": "D1", "text": "*Step 1*: open settings"},
        {"channel": "D1", "text": "Then _save_."},
    ]
    assert posts[0]["authorization"] == f"Bearer {TOKEN}"


def test_replies_go_to_the_configured_channel_and_thread(fake_slack):
    asyncio.run(bot_for(fake_slack, "CFIXED", "300.0").send_text_message("U1", "hi"))
    (post,) = fake_slack.snapshot()
    assert post["json"] == {"channel": "CFIXED", "text": "hi", "thread_ts": "300.0"}


def test_buttons_become_block_kit_with_all_six_buttons(fake_slack):
    buttons = [{"title": f"Option {n}", "payload": f'/choose{{"n":{n}}}'} for n in range(6)]
    asyncio.run(bot_for(fake_slack).send_text_with_buttons("D1", "Pick **one**:", buttons))
    (post,) = fake_slack.snapshot()
    body = post["json"]
    assert body["text"] == "Pick *one*:" and "as_user" not in body
    section, actions = body["blocks"]
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": "Pick *one*:"}}
    assert [e["text"]["text"] for e in actions["elements"]] == [f"Option {n}" for n in range(6)]
    assert [e["value"] for e in actions["elements"]] == [b["payload"] for b in buttons]
    assert [e["action_id"] for e in actions["elements"]] == [f"rasa_button_{n}" for n in range(6)]


def test_more_than_25_buttons_are_cut_and_long_texts_are_split_into_sections(fake_slack, caplog):
    buttons = [{"title": "x" * 100 if n == 0 else f"b{n}", "payload": f"/p{n}"} for n in range(30)]
    text = "a" * (MAX_SECTION_TEXT + 10)
    with caplog.at_level(logging.WARNING, logger="channels.slack"):
        asyncio.run(bot_for(fake_slack).send_text_with_buttons("D1", text, buttons))
    (post,) = fake_slack.snapshot()
    blocks = post["json"]["blocks"]
    assert [block["type"] for block in blocks] == ["section", "section", "actions"]
    assert [len(block["text"]["text"]) for block in blocks[:2]] == [MAX_SECTION_TEXT, 10]
    elements = blocks[2]["elements"]
    assert len(elements) == 25 and elements[-1]["value"] == "/p24"
    assert elements[0]["text"]["text"] == "x" * MAX_BUTTON_TEXT
    assert "dropped 5" in caplog.text


def test_a_refused_post_is_logged_not_raised(fake_slack, caplog):
    fake_slack.responder = lambda record: (200, {"ok": False, "error": "channel_not_found"})
    with caplog.at_level(logging.ERROR, logger="channels.slack"):
        asyncio.run(bot_for(fake_slack).send_text_message("DGONE", "hello"))
    assert len(fake_slack.snapshot()) == 1
    assert "DGONE" in caplog.text and "channel_not_found" in caplog.text


def test_a_rate_limited_post_is_retried(fake_slack):
    fake_slack.statuses.append(429)
    asyncio.run(bot_for(fake_slack).send_text_message("D1", "hello"))
    posts = fake_slack.snapshot()
    assert [post["json"]["text"] for post in posts] == ["hello", "hello"]


# -- direct messages ----------------------------------------------------------------------------------
PERSONAL = {
    "text": "Here's the ticket I'll open:\n- Contact: ann@corp.example",
    "buttons": [{"title": "Yes", "payload": "/affirm"}],
}


def test_a_direct_message_goes_to_a_dm_opened_with_the_user_never_to_the_channel(fake_slack):
    bot = bot_for(fake_slack, "CSEC", "300.0", user="U42")
    asyncio.run(bot.send_custom_json("U42", {"direct_message": PERSONAL}))
    opened, posted = fake_slack.snapshot()
    assert opened["path"] == "/api/conversations.open" and opened_with(opened) == "U42"
    assert posted["path"] == "/api/chat.postMessage"
    assert posted["json"]["channel"] == "DU42" and "thread_ts" not in posted["json"]  # not the channel's thread
    assert "ann@corp.example" in posted["json"]["text"]
    assert [e["value"] for e in posted["json"]["blocks"][-1]["elements"]] == ["/affirm"]


def test_a_direct_message_without_buttons_is_posted_per_paragraph(fake_slack):
    bot = bot_for(fake_slack, "CSEC", user="U42")
    asyncio.run(bot.send_custom_json("U42", {"direct_message": {"text": "Your tickets:\n\n- **ALM-000001**"}}))
    posts = [r for r in fake_slack.snapshot() if r["path"] == "/api/chat.postMessage"]
    assert [p["json"] for p in posts] == [
        {"channel": "DU42", "text": "Your tickets:"},
        {"channel": "DU42", "text": "- *ALM-000001*"},
    ]


@pytest.mark.parametrize("user", [None, ""])
def test_without_the_user_a_direct_message_is_dropped_not_posted_in_the_channel(fake_slack, caplog, user):
    with caplog.at_level(logging.ERROR, logger="channels.slack"):
        asyncio.run(bot_for(fake_slack, "CSEC", user=user).send_custom_json("U42", {"direct_message": PERSONAL}))
    assert fake_slack.snapshot() == [] and "direct message was dropped" in caplog.text


@pytest.mark.parametrize(
    "answer",
    [
        {"ok": False, "error": "missing_scope"},
        {"ok": True},
        {"ok": True, "channel": "D1"},
        {"ok": True, "channel": {"id": 42}},
    ],
)
def test_when_the_dm_can_not_be_opened_nothing_is_posted(fake_slack, caplog, answer):
    fake_slack.responder = lambda record: (200, answer)
    with caplog.at_level(logging.ERROR, logger="channels.slack"):
        asyncio.run(bot_for(fake_slack, "CSEC", user="U42").send_custom_json("U42", {"direct_message": PERSONAL}))
    assert [r["path"] for r in fake_slack.snapshot()] == ["/api/conversations.open"]
    assert "conversations.open with U42" in caplog.text


def test_another_custom_message_can_not_choose_its_channel(fake_slack):
    bot = bot_for(fake_slack, "CSEC", user="U42")
    asyncio.run(bot.send_custom_json("U42", {"channel": "CELSEWHERE", "as_user": True, "text": "hello"}))
    (post,) = fake_slack.snapshot()
    assert post["json"] == {"channel": "CSEC", "text": "hello"}
