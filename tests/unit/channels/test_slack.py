"""channels/slack.py: mrkdwn, configuration, and the webhook (signature, retries, de-duplication, event
parsing) driven in-process through Sanic's ASGI interface. (The replies, posted to a local fake Slack Web
API: tests/integration/channels/test_slack.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlencode

import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from channels.slack import (
    DEFAULT_API_URL,
    SlackApiBot,
    SlackChannel,
    _chunks,
    to_mrkdwn,
)
from core.settings import Settings
from tests.asgi_client import AsgiClient, Response

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-unit-test"
BOT_USER = "UBOT"
WEBHOOK = "/webhooks/slack/webhook"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

Request = Tuple[str, str, bytes, Dict[str, str]]


# -- mrkdwn ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "markdown, mrkdwn",
    [
        ("**Reset** your password", "*Reset* your password"),
        ("an *important* step", "an _important_ step"),
        ("**bold** and *italic*", "*bold* and _italic_"),
        ("see [the guide](https://mail.example.com/help)", "see <https://mail.example.com/help|the guide>"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("2*3*4 stays", "2*3*4 stays"),
        ("* a list item\n* another", "* a list item\n* another"),
        ("[not a link](ftp://x)", "[not a link](ftp://x)"),
        ("**two\nlines**", "*two\nlines*"),
    ],
)
def test_markdown_becomes_slack_mrkdwn(markdown, mrkdwn):
    assert to_mrkdwn(markdown) == mrkdwn


def test_chunks_cut_long_texts_and_keep_an_empty_one():
    assert _chunks("abcdefg", 3) == ["abc", "def", "g"]
    assert _chunks("", 3) == [""]


# -- configuration -----------------------------------------------------------------------------------
def test_credentials_come_from_the_settings():
    settings = Settings.from_environ(
        {"SLACK_BOT_TOKEN": f"  {TOKEN} ", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": "http://127.0.0.1:9/api"}
    )
    channel = SlackChannel.from_credentials({"slack_channel": "C1", "conversation_granularity": "thread"}, settings)
    assert isinstance(channel, SlackChannel) and channel.configured
    assert (channel.slack_token, channel.slack_signing_secret) == (TOKEN, SECRET)
    assert channel.api_url == "http://127.0.0.1:9/api/"  # slack_sdk joins with urljoin: the slash matters
    assert (channel.slack_channel, channel.conversation_granularity) == ("C1", "thread")
    assert channel.retry_num_header == "X-Slack-Retry-Num"
    assert SlackChannel.name() == "slack" and channel.url_prefix() == "slack"


def test_without_token_or_secret_the_channel_is_created_but_not_configured(caplog):
    settings = Settings.from_environ({"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": "  "})
    with caplog.at_level(logging.WARNING, logger="channels.slack"):
        channel = SlackChannel.from_credentials(None, settings)
    assert isinstance(channel, SlackChannel) and not channel.configured
    assert channel.api_url == DEFAULT_API_URL
    assert "SLACK_BOT_TOKEN unset" in caplog.text


def test_the_output_channel_posts_through_the_configured_api_url():
    channel = SlackChannel(TOKEN, "CDEFAULT", slack_signing_secret=SECRET, api_url="http://127.0.0.1:9/api/")
    bot = channel.get_output_channel("C42", "1700000000.000100")
    assert isinstance(bot, SlackApiBot)
    assert (bot.slack_channel, bot.thread_id, bot.client.base_url) == ("C42", "1700000000.000100", channel.api_url)
    assert channel.get_output_channel().slack_channel == "CDEFAULT"


# -- the webhook -------------------------------------------------------------------------------------
def signed(
    body: bytes, content_type: str = JSON, timestamp: Optional[int] = None, secret: str = SECRET, **extra: str
) -> Dict[str, str]:
    """Headers as Slack sends them: v0 HMAC-SHA256 of `v0:<timestamp>:<body>`."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        **extra,
    }


def event_body(text: str = "I forgot my password", event_id: Optional[str] = "Ev1", **event: Any) -> bytes:
    """An event_callback for a direct message from user U1."""
    body: Dict[str, Any] = {
        "type": "event_callback",
        "authed_users": [BOT_USER],
        "event": {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "ts": "111.1", "text": text}
        | event,
    }
    if event_id:
        body["event_id"] = event_id
    return json.dumps(body).encode()


def post_event(
    body: bytes, content_type: str = JSON, timestamp: Optional[int] = None, extra: Optional[Dict[str, str]] = None
) -> Request:
    return ("POST", WEBHOOK, body, signed(body, content_type, timestamp, **(extra or {})))


def interaction(action: Dict[str, Any], trigger_id: Optional[str] = "T1") -> bytes:
    payload: Dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "channel": {"id": "D1"},
        "message": {"ts": "222.2"},
        "actions": [action],
    }
    if trigger_id:
        payload["trigger_id"] = trigger_id
    return urlencode({"payload": json.dumps(payload)}).encode()


def post_form(body: bytes) -> Request:
    return ("POST", WEBHOOK, body, signed(body, FORM))


def configured_channel(**kwargs: Any) -> SlackChannel:
    return SlackChannel(TOKEN, slack_signing_secret=SECRET, api_url="http://127.0.0.1:9/api/", **kwargs)


def exchange(channel: SlackChannel, *requests: Request) -> Tuple[List[Response], List[UserMessage]]:
    """The responses to `requests`, sent in order to the channel's blueprint, and the messages it passed on."""
    received: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)

    async def scenario() -> List[Response]:
        app = Sanic(f"slack_test_{uuid.uuid4().hex}")
        app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/slack")
        async with AsgiClient(app) as client:
            responses = [await client.request(method, path, body, headers) for method, path, body, headers in requests]
            for _ in range(3):  # rasa hands the message on in a task of its own
                await asyncio.sleep(0)
        return responses

    return asyncio.run(scenario()), received


def test_unconfigured_channel_answers_503_and_passes_nothing_on():
    body = event_body()
    responses, received = exchange(
        SlackChannel("", slack_signing_secret=""), ("GET", "/webhooks/slack/", b"", {}), post_event(body)
    )
    assert [status for status, _, _ in responses] == [503, 503]
    assert json.loads(responses[1][2])["reason"] == "the Slack channel is not configured"
    assert received == []


def test_health_is_ok_when_configured():
    (response,), _ = exchange(configured_channel(), ("GET", "/webhooks/slack/", b"", {}))
    assert response[0] == 200 and json.loads(response[2]) == {"status": "ok"}


def test_a_signed_direct_message_reaches_rasa_with_its_reply_channel():
    (response,), received = exchange(configured_channel(), post_event(event_body("  I forgot my password ")))
    assert response[0] == 200
    (message,) = received
    assert message.text.strip() == "I forgot my password"
    assert (message.sender_id, message.input_channel) == ("U1", "slack")
    assert message.metadata == {"out_channel": "D1", "thread_id": "111.1", "users": [BOT_USER]}
    assert isinstance(message.output_channel, SlackApiBot)
    assert message.output_channel.slack_channel == "D1" and message.output_channel.thread_id is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": JSON},
        {"Content-Type": JSON, "X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"},
        {"Content-Type": JSON, "X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
    ],
    ids=["unsigned", "wrong-signature", "bad-timestamp"],
)
def test_unsigned_or_wrongly_signed_requests_are_refused_with_401(headers):
    (response,), received = exchange(configured_channel(), ("POST", WEBHOOK, event_body(), headers))
    assert response[0] == 401 and received == []


def test_a_signature_with_another_secret_a_stale_timestamp_or_a_changed_body_is_refused():
    body = event_body()
    stale = int(time.time()) - 6 * 60
    responses, received = exchange(
        configured_channel(),
        ("POST", WEBHOOK, body, signed(body, secret="another-secret")),
        ("POST", WEBHOOK, body, signed(body, timestamp=stale)),
        ("POST", WEBHOOK, event_body("something else"), signed(body)),
    )
    assert [status for status, _, _ in responses] == [401, 401, 401] and received == []


def test_a_timestamp_four_minutes_old_is_still_accepted():
    body = event_body()
    (response,), received = exchange(configured_channel(), post_event(body, timestamp=int(time.time()) - 240))
    assert response[0] == 200 and len(received) == 1


def test_every_retry_is_acknowledged_without_being_processed():
    body = event_body(event_id="EvRetry")
    responses, received = exchange(
        configured_channel(),
        post_event(body, extra={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}),
        post_event(body, extra={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}),
    )
    for status, headers, _ in responses:
        assert status == 200 and headers["x-slack-no-retry"] == "1"
    assert received == []


def test_a_redelivered_event_id_is_answered_once():
    channel = configured_channel()
    responses, received = exchange(
        channel,
        post_event(event_body("hello", event_id="EvA")),
        post_event(event_body("hello", event_id="EvA")),
        post_event(event_body("hello", event_id="EvB")),
    )
    assert [body for _, _, body in responses] == [b"", b"Duplicate event ignored.", b""]
    assert [message.text for message in received] == ["hello", "hello"]
    assert channel.seen_events.get("event:EvA") is True


def test_url_verification_is_answered_with_the_challenge_whatever_the_charset():
    body = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    (response,), received = exchange(
        configured_channel(), post_event(body.encode(), content_type="application/json; charset=utf-8")
    )
    assert response[0] == 200
    assert json.loads(response[2]) == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert received == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"", b"null"])
def test_malformed_json_is_refused_with_400(body):
    (response,), received = exchange(configured_channel(), post_event(body))
    assert response[0] == 400 and received == []


def test_an_unsupported_content_type_is_refused_with_415():
    (response,), _ = exchange(configured_channel(), post_event(b"hello", content_type="text/plain"))
    assert response[0] == 415


@pytest.mark.parametrize(
    "body, answer",
    [
        (json.dumps({"type": "app_rate_limited"}).encode(), b"Ignored."),
        (event_body(bot_id="BOTHER"), b"Not a user message."),
        (event_body(""), b"Not a user message."),
        (event_body(type="reaction_added"), b"Not a user message."),
        (event_body(channel_type="channel", channel="CPUBLIC"), b"Channel not supported."),
    ],
    ids=["other-type", "bot-message", "no-text", "not-a-message", "public-channel"],
)
def test_events_that_are_no_user_message_to_the_bot_are_acknowledged_and_dropped(body, answer):
    (response,), received = exchange(configured_channel(), post_event(body))
    assert (response[0], response[2]) == (200, answer) and received == []


def test_a_mention_in_a_channel_is_answered_in_its_thread_without_the_bot_mention():
    body = event_body(
        f"<@{BOT_USER}> my account is locked",
        type="app_mention",
        channel_type="channel",
        channel="CSEC",
        ts="333.3",
        thread_ts="300.0",
    )
    channel = configured_channel(use_threads=True, conversation_granularity="thread")
    _, (message,) = exchange(channel, post_event(body))
    assert message.text == "my account is locked"
    assert message.sender_id == "U1_CSEC_300.0"
    assert message.output_channel.slack_channel == "CSEC" and message.output_channel.thread_id == "300.0"


def test_messages_in_the_configured_channel_are_answered():
    body = event_body(channel_type="channel", channel="CBOT")
    _, received = exchange(
        configured_channel(slack_channel="CBOT", conversation_granularity="channel"), post_event(body)
    )
    assert [message.sender_id for message in received] == ["U1_CBOT"]


def test_the_bot_user_comes_from_the_authorizations_when_authed_users_is_missing():
    body = json.loads(event_body(f"hi <@{BOT_USER}>"))
    del body["authed_users"]
    body["authorizations"] = [{"user_id": BOT_USER}]
    _, (message,) = exchange(configured_channel(), post_event(json.dumps(body).encode()))
    assert message.text == "hi" and message.metadata["users"] == [BOT_USER]


def test_a_button_click_reaches_rasa_as_its_payload_once_per_trigger():
    click = interaction({"type": "button", "value": "/faq_password", "action_id": "rasa_button_0"}, trigger_id="T9")
    responses, received = exchange(configured_channel(), post_form(click), post_form(click))
    assert [body for _, _, body in responses] == [b"", b"Duplicate interaction ignored."]
    (message,) = received
    assert (message.text, message.sender_id) == ("/faq_password", "U1")
    assert message.metadata == {"out_channel": "D1", "thread_id": "222.2", "users": ["U1"]}


def test_a_select_is_answered_with_its_selected_value():
    select = interaction({"type": "static_select", "selected_option": {"value": "zh"}}, trigger_id=None)
    _, (message,) = exchange(configured_channel(), post_form(select))
    assert message.text == "zh"


@pytest.mark.parametrize(
    "body, status, answer",
    [
        (interaction({"type": "button", "url": "https://x.example"}), 200, b"Interaction without a value ignored."),
        (interaction({"type": "plain_text_input", "value": "x"}), 200, b"Interaction ignored."),
        (urlencode({"payload": "{oops"}).encode(), 400, b"Malformed interaction payload."),
        (b"other=1", 400, b"Malformed interaction payload."),
    ],
    ids=["link-button", "unsupported-element", "bad-json", "no-payload"],
)
def test_interactions_without_a_value_or_a_payload_are_not_passed_on(body, status, answer):
    (response,), received = exchange(configured_channel(), post_form(body))
    assert (response[0], response[2]) == (status, answer) and received == []
