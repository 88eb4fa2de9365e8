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

from channels.memory import MemoryStore, RedisStore, StateUnavailable
from channels.slack import (
    DEFAULT_API_URL,
    SlackApiBot,
    SlackChannel,
    _chunks,
    to_mrkdwn,
)
from core import phrases
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


def test_a_turn_posts_each_privacy_notice_once_and_every_other_text() -> None:
    """Each personal reply of a turn (an action's, a form question's) carries the notice: posted once per
    turn (one output channel per incoming message); the next turn's output channel posts it again."""
    notice = phrases.say("private_in_dm", "en")
    posted: List[str] = []

    async def post(self: SlackApiBot, channel: str, **kwargs: Any) -> None:
        posted.append(kwargs["text"])

    channel = SlackChannel(TOKEN, None, slack_signing_secret=SECRET, api_url="http://127.0.0.1:9/api/")
    for _turn in range(2):
        bot = channel.get_output_channel("C42")
        bot._post_message = post.__get__(bot)  # type: ignore[method-assign]
        for text in [notice, notice, "Step 1", "Step 1", phrases.say("private_in_dm", "zh")]:
            asyncio.run(bot.send_text_message("C42", text))
    once = [notice, "Step 1", "Step 1", phrases.say("private_in_dm", "zh")]
    assert posted == once + once


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
    assert message.metadata == {
        "out_channel": "D1",
        "thread_id": "111.1",
        "users": [BOT_USER],
        "chat_type": "direct",
        "dm_available": True,
    }
    assert isinstance(message.output_channel, SlackApiBot)
    assert message.output_channel.slack_channel == "D1" and message.output_channel.thread_id is None
    assert message.output_channel.user_id == "U1"  # who a direct message goes to


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
    assert channel.seen_events.cache.get("event:EvA") is True


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
    assert message.metadata == {
        "out_channel": "D1",
        "thread_id": "222.2",
        "users": ["U1"],
        "chat_type": "direct",
        "dm_available": True,
    }


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


# -- group chats: what Rasa is told --------------------------------------------------------------------
@pytest.mark.parametrize(
    "event, chat_type",
    [
        ({"channel_type": "im", "channel": "D1"}, "direct"),
        ({"type": "app_mention", "channel_type": None, "channel": "CSEC"}, "group"),
        ({"type": "app_mention", "channel_type": None, "channel": "GPRIV"}, "group"),
        ({"type": "app_mention", "channel_type": "mpim", "channel": "DMULTI"}, "group"),
        ({"type": "app_mention", "channel_type": "channel", "channel": "D1"}, "group"),
        ({"type": "app_mention", "channel_type": "im", "channel": "C1"}, "group"),
    ],
)
def test_only_a_dm_channel_is_a_direct_chat(event, chat_type):
    body = json.loads(event_body(f"<@{BOT_USER}> status of my tickets"))
    body["event"].update(event)
    body["event"] = {key: value for key, value in body["event"].items() if value is not None}
    _, (message,) = exchange(configured_channel(), post_event(json.dumps(body).encode()))
    assert (message.metadata["chat_type"], message.metadata["dm_available"]) == (chat_type, True)


def test_a_button_clicked_in_a_channel_is_from_a_group_chat():
    payload = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "channel": {"id": "CSEC"},
        "message": {"ts": "222.2"},
        "actions": [{"type": "button", "value": "/ticket_status"}],
    }
    _, (message,) = exchange(configured_channel(), post_form(urlencode({"payload": json.dumps(payload)}).encode()))
    assert message.metadata["chat_type"] == "group" and message.output_channel.user_id == "U1"


def test_metadata_a_client_adds_to_the_event_is_not_passed_on():
    body = json.loads(event_body())
    body["event"]["metadata"] = {"verified_identity": {"email": "boss@corp.example"}, "chat_type": "direct"}
    body["chat_type"] = "direct"
    _, (message,) = exchange(configured_channel(), post_event(json.dumps(body).encode()))
    assert set(message.metadata) == {"out_channel", "thread_id", "users", "chat_type", "dm_available"}


# -- malformed anything is a 4xx ------------------------------------------------------------------------
def _with(changes: Dict[str, Any], event: Optional[Dict[str, Any]] = None) -> bytes:
    body = json.loads(event_body())
    body.update(changes)
    if event is not None:
        body["event"] = {**body["event"], **event}
    return json.dumps(body).encode()


MALFORMED_EVENTS = {
    "event-a-string": _with({"event": "message"}),
    "event-a-list": _with({"event": [1]}),
    "type-a-list": _with({"type": ["event_callback"]}),
    "event-id-an-object": _with({"event_id": {"x": 1}}),
    "event-id-huge": _with({"event_id": "E" * 10_000}),
    "authed-users-a-string": _with({"authed_users": "UBOT"}),
    "authed-users-numbers": _with({"authed_users": [1, 2]}),
    "authorizations-an-object": _with({"authed_users": None, "authorizations": {"user_id": "U"}}),
    "authorizations-strings": _with({"authed_users": None, "authorizations": ["U"]}),
    "user-an-object": _with({}, {"user": {"id": "U1"}}),
    "user-with-spaces": _with({}, {"user": "U 1"}),
    "channel-a-number": _with({}, {"channel": 42}),
    "text-a-list": _with({}, {"text": ["hi"]}),
    "text-a-lone-surrogate": _with({}, {"text": "\ud800"}),
    "thread-ts-an-object": _with({}, {"thread_ts": {}}),
    "channel-type-a-number": _with({}, {"channel_type": 1}),
    "challenge-an-object": json.dumps({"type": "url_verification", "challenge": {"a": 1}}).encode(),
    "nested-too-deep": b"[" * 100_000 + b"]" * 100_000,
    "not-utf-8": b'{"type": "event_callback", "event_id": "\xff"}',
    "integer-too-long": b'{"type": "event_callback", "event_id": 1' + b"0" * 5000 + b"}",
}


@pytest.mark.parametrize("body", list(MALFORMED_EVENTS.values()), ids=list(MALFORMED_EVENTS))
def test_malformed_events_are_400_not_500(body):
    (response,), received = exchange(configured_channel(), post_event(body))
    assert response[0] == 400 and received == []
    assert b"Traceback" not in response[2]


def _interaction_with(**changes: Any) -> bytes:
    payload: Dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "channel": {"id": "D1"},
        "message": {"ts": "222.2"},
        "actions": [{"type": "button", "value": "/affirm"}],
    }
    payload.update(changes)
    return urlencode({"payload": json.dumps(payload)}).encode()


MALFORMED_INTERACTIONS = {
    "actions-an-object": _interaction_with(actions={"type": "button"}),
    "actions-strings": _interaction_with(actions=["button"]),
    "action-type-a-number": _interaction_with(actions=[{"type": 1, "value": "x"}]),
    "value-an-object": _interaction_with(actions=[{"type": "button", "value": {"a": 1}}]),
    "selected-option-a-string": _interaction_with(actions=[{"type": "static_select", "selected_option": "x"}]),
    "user-a-string": _interaction_with(user="U1"),
    "user-id-a-list": _interaction_with(user={"id": ["U1"]}),
    "channel-a-list": _interaction_with(channel=["D1"]),
    "message-a-string": _interaction_with(message="hi"),
    "trigger-id-an-object": _interaction_with(trigger_id={"a": 1}),
    "no-user": _interaction_with(user=None),
    "payload-not-utf-8": b"payload=%7B%22a%22%3A%22\xff%22%7D\xff",
    "too-many-fields": "&".join(f"f{i}=1" for i in range(100)).encode(),
    "nested-too-deep": urlencode({"payload": "[" * 100_000}).encode(),
}


@pytest.mark.parametrize("body", list(MALFORMED_INTERACTIONS.values()), ids=list(MALFORMED_INTERACTIONS))
def test_malformed_interactions_are_400_not_500(body):
    (response,), received = exchange(configured_channel(), post_form(body))
    assert response[0] == 400 and received == []


@pytest.mark.parametrize(
    "timestamp, signature",
    [
        ("²", "v0=" + "0" * 64),
        ("1700000000", "v0=" + "é" * 64),
        ("1700000000", "v0=\xff"),  # a byte that is not ASCII (the real server: tests/security)
        ("\xb2", "v0=" + "0" * 64),
        ("9" * 40, "v0=" + "0" * 64),
        ("", ""),
    ],
)
def test_malformed_signature_headers_are_401_not_500(timestamp, signature):
    body = event_body()
    headers = {"Content-Type": JSON, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
    (response,), received = exchange(configured_channel(), ("POST", WEBHOOK, body, headers))
    assert response[0] == 401 and received == []


def test_a_body_over_a_megabyte_is_413():
    body = event_body("x" * (1024 * 1024))
    (response,), received = exchange(configured_channel(), post_event(body))
    assert response[0] == 413 and received == []


def test_a_long_text_is_cut_not_refused():
    _, (message,) = exchange(configured_channel(), post_event(event_body("word " * 10_000)))
    assert 0 < len(message.text) <= 5000


class DownStore(MemoryStore):
    """A store whose Redis is gone."""

    def __init__(self) -> None:
        super().__init__(10, 60)

    async def add_if_new(self, key: str) -> bool:
        raise StateUnavailable("Redis did not answer SET NX within 2s")


@pytest.mark.parametrize(
    "request_body, language",
    [(event_body("I forgot my password"), "en"), (event_body("我忘记密码了"), "zh"), (None, None)],
)
def test_without_the_shared_store_a_message_is_not_answered_unchecked_and_the_user_is_asked_to_resend(
    request_body, language
):
    """Redis down: acknowledged (Slack does not redeliver), not passed to Rasa, and the user is told to send
    it again in the message's language; a button click says nothing about it, so both languages (issue 17).
    Before: 503 and silence until Slack's retries, lost after its last one."""
    from core.phrases import say_in_language_or_all
    from tests.fake_http import RecordingServer

    slack_api = RecordingServer(lambda call: (200, {"ok": True, "channel": "D1", "ts": "1.1"}))
    channel = SlackChannel(TOKEN, slack_signing_secret=SECRET, api_url=f"{slack_api.url}/api/")
    channel.seen_events = DownStore()
    button = {"type": "button", "value": "/next_step", "action_id": "rasa_button_0"}
    request = post_event(request_body) if request_body else post_form(interaction(button))
    received: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)

    async def scenario() -> Response:
        app = Sanic(f"slack_test_{uuid.uuid4().hex}")
        app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/slack")
        async with AsgiClient(app) as client:
            answer = await client.request(*request)
            await asyncio.gather(*channel._background_tasks)  # the post to Slack, after the acknowledgement
            return answer

    try:
        response = asyncio.run(scenario())
        posts = slack_api.snapshot()
    finally:
        slack_api.close()
    assert response[0] == 200 and received == []
    (post,) = [c for c in posts or [] if c["path"].endswith("chat.postMessage")]
    assert post["body"]["text"] == say_in_language_or_all("part_unavailable", language)


def test_the_production_profile_keeps_seen_events_in_redis_the_embedded_one_in_memory():
    settings = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "REDIS_KEY_PREFIX": "pfx"}
    production = SlackChannel.from_credentials({}, Settings.from_environ({**settings, "ALIMAIL_PROFILE": "production"}))
    assert isinstance(production, SlackChannel) and isinstance(production.seen_events, RedisStore)
    assert production.seen_events.namespace == "pfx:slack:seen:"
    embedded = SlackChannel.from_credentials({}, Settings.from_environ(settings))
    assert isinstance(embedded, SlackChannel) and isinstance(embedded.seen_events, MemoryStore)
