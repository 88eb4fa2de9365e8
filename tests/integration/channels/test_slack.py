"""channels/slack.py's replies (SlackApiBot), posted to a local fake Slack Web API: paragraphs in mrkdwn,
Block Kit buttons, the configured channel and thread, refused and rate-limited posts."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Iterator, Optional, Tuple

import pytest

from channels.slack import MAX_BUTTON_TEXT, MAX_SECTION_TEXT, SlackApiBot
from tests.fake_http import RecordingServer

TOKEN = "xoxb-integration-test"


def slack_answer(record: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
    return 200, {"ok": True, "channel": (record["json"] or {}).get("channel"), "ts": "1.0"}


@pytest.fixture
def fake_slack() -> Iterator[RecordingServer]:
    server = RecordingServer(responder=slack_answer)
    yield server
    server.close()


def bot_for(server: RecordingServer, channel: Optional[str] = None, thread_id: Optional[str] = None) -> SlackApiBot:
    return SlackApiBot(TOKEN, channel, thread_id, base_url=f"{server.url}/api/")


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
