"""End to end over Slack: the real Rasa server and action server, a local fake Slack Web API.

Rasa serves `channels.slack.SlackChannel` on /webhooks/slack/webhook; its replies go to
the fake Web API (SLACK_API_URL), which records every chat.postMessage call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlencode

import pytest
import requests
import yaml

from tests.e2e.servers import (
    ROOT,
    SLACK_BOT_TOKEN,
    SLACK_SIGNING_SECRET,
    Servers,
    SharedServers,
    channels_config,
    identity_config,
)
from tests.fake_http import RecordingServer

SIGNING_SECRET = SLACK_SIGNING_SECRET
BOT_TOKEN = SLACK_BOT_TOKEN
BOT_USER = "UBOTTEST"
REPLY_TIMEOUT = 60
QUIET_SECONDS = 3  # how long "nothing more is posted" is watched for


class FakeSlackApi:
    """A Slack Web API on 127.0.0.1 that answers ok and records each call; conversations.open(users=U…)
    opens the direct message D<…> (`dm_channel`). One for the session (the `fake_slack` fixture of
    tests/conftest.py): the tests tell their calls apart by channel."""

    def __init__(self) -> None:
        self.server = RecordingServer(responder=self._answer)
        self.url = f"{self.server.url}/api/"

    @staticmethod
    def _answer(call: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
        if call["path"].endswith("/conversations.open"):
            user = (call["body"] or {}).get("users") or call["query"].get("users", [""])[0]
            return 200, {"ok": True, "channel": {"id": dm_channel(user)}}
        body = call["body"] or {}
        return 200, {
            "ok": True,
            "channel": body.get("channel"),
            "ts": f"{time.time():.6f}",
            "message": {"text": body.get("text"), "bot_id": "BFAKE"},
        }

    def stop(self) -> None:
        self.server.close()

    @staticmethod
    def _posts(calls: List[Dict[str, Any]], channel: str) -> List[Dict[str, Any]]:
        return [
            c
            for c in calls
            if c["path"].rsplit("/", 1)[-1] == "chat.postMessage" and (c["body"] or {}).get("channel") == channel
        ]

    def posts(self, channel: str) -> List[Dict[str, Any]]:
        """The chat.postMessage calls to `channel`, in order."""
        return self._posts(self.server.snapshot(), channel)

    def wait_for(
        self, channel: str, predicate: Callable[[List[Dict[str, Any]]], bool], timeout: float = REPLY_TIMEOUT
    ) -> List[Dict[str, Any]]:
        calls = self.server.wait_for(lambda calls: predicate(self._posts(calls, channel)), timeout, poll=0.2)
        if calls is None:
            raise AssertionError(f"no matching post to {channel} within {timeout}s; got {self.posts(channel)!r}")
        return self._posts(calls, channel)

    def settled(self, channel: str, minimum: int = 1) -> List[Dict[str, Any]]:
        """Waits for at least `minimum` posts, then until nothing new arrives for QUIET_SECONDS."""
        self.wait_for(channel, lambda posts: len(posts) >= minimum)
        count, quiet_since = len(self.posts(channel)), time.monotonic()
        while time.monotonic() - quiet_since < QUIET_SECONDS:
            time.sleep(0.2)
            if len(self.posts(channel)) != count:
                count, quiet_since = len(self.posts(channel)), time.monotonic()
        return self.posts(channel)


def dm_channel(user: str) -> str:
    """The DM channel of a user with the bot (what conversations.open answers in the fake)."""
    return "D" + user[1:]


def text_of(posts: List[Dict[str, Any]]) -> str:
    """Every posted text, section block text and button label."""
    parts = []
    for post in posts:
        body = post["body"]
        parts.append(body.get("text") or "")
        for block in body.get("blocks") or []:
            parts.append((block.get("text") or {}).get("text") or "")
            parts.extend(e["text"]["text"] for e in block.get("elements") or [] if e.get("type") == "button")
    return "\n".join(parts)


def slack_buttons(posts: List[Dict[str, Any]]) -> Dict[str, str]:
    """Button label -> value in the Block Kit `actions` blocks of the posts."""
    return {
        element["text"]["text"]: element["value"]
        for post in posts
        for block in post["body"].get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
        if element["type"] == "button"
    }


def signed_headers(
    raw: bytes, content_type: str, timestamp: Optional[int] = None, secret: str = SIGNING_SECRET
) -> Dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + raw, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
    }


def post_json(
    url: str, body: Dict[str, Any], headers: Optional[Dict[str, str]] = None, **signing: Any
) -> requests.Response:
    raw = json.dumps(body).encode()
    return requests.post(
        url, data=raw, headers={**signed_headers(raw, "application/json", **signing), **(headers or {})}, timeout=30
    )


def post_interaction(url: str, payload: Dict[str, Any], **signing: Any) -> requests.Response:
    raw = urlencode({"payload": json.dumps(payload)}).encode()
    return requests.post(
        url, data=raw, timeout=30, headers=signed_headers(raw, "application/x-www-form-urlencoded", **signing)
    )


def message_event(channel: str, user: str, text: str) -> Dict[str, Any]:
    """An `event_callback` for a direct message to the bot, as Slack sends it."""
    ts = f"{time.time():.6f}"
    return {
        "token": "unused-verification-token",
        "team_id": "T0TEST",
        "api_app_id": "A0TEST",
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:12].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": "T0TEST", "user_id": BOT_USER, "is_bot": True}],
        "event": {
            "type": "message",
            "channel_type": "im",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "client_msg_id": str(uuid.uuid4()),
        },
    }


def block_actions(channel: str, user: str, label: str, value: str) -> Dict[str, Any]:
    """The interaction payload Slack posts when a button of the bot's message is clicked."""
    return {
        "type": "block_actions",
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:8]}",
        "user": {"id": user, "username": "tester", "team_id": "T0TEST"},
        "team": {"id": "T0TEST"},
        "api_app_id": "A0TEST",
        "container": {"type": "message", "channel_id": channel},
        "channel": {"id": channel, "name": "directmessage"},
        "message": {"type": "message", "bot_id": "BFAKE", "ts": f"{time.time():.6f}", "text": "…"},
        "actions": [
            {
                "type": "button",
                "action_id": "rasa_button_0",
                "block_id": "b1",
                "value": value,
                "text": {"type": "plain_text", "text": label},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def conversation() -> Dict[str, str]:
    """A fresh DM channel and Slack user."""
    tag = uuid.uuid4().hex[:10].upper()
    return {"channel": f"D{tag}", "user": f"U{tag}"}


@pytest.fixture(scope="module")
def slack_servers(shared_servers: SharedServers, fake_slack: FakeSlackApi) -> Servers:
    """The session's servers with every channel configured; Slack's replies go to `fake_slack`."""
    return shared_servers.get(channels_config(fake_slack.url))


@pytest.fixture
def webhook(slack_servers) -> str:
    return f"{slack_servers.rasa_url}/webhooks/slack/webhook"


def test_credentials_yml_names_the_slack_channel():
    assert "channels.slack.SlackChannel" in yaml.safe_load((ROOT / "credentials.yml").read_text())


def test_signed_message_is_answered_through_the_web_api_with_buttons(webhook, fake_slack):
    c = conversation()
    response = post_json(webhook, message_event(c["channel"], c["user"], "I forgot my password"))
    assert response.status_code == 200, response.text
    posts = fake_slack.wait_for(c["channel"], lambda posts: slack_buttons(posts))
    assert "*Forgotten Password*" in text_of(posts)  # Markdown **bold** became Slack mrkdwn
    assert "secure phone number" in text_of(posts)
    buttons = slack_buttons(posts)
    assert "Yes, one of them" in buttons and buttons["Yes, one of them"].startswith("/")
    for post in posts:
        assert post["path"] == "/api/chat.postMessage"
        assert post["authorization"] == f"Bearer {BOT_TOKEN}"
        assert "as_user" not in post["body"]  # refused by new Slack apps' bot tokens


def test_button_click_reaches_the_bot_as_its_payload(webhook, fake_slack):
    c = conversation()
    post_json(webhook, message_event(c["channel"], c["user"], "I forgot my password"))
    posts = fake_slack.settled(c["channel"])
    value = slack_buttons(posts)["Yes, one of them"]
    response = post_interaction(webhook, block_actions(c["channel"], c["user"], "Yes, one of them", value))
    assert response.status_code == 200, response.text
    posts = fake_slack.wait_for(c["channel"], lambda posts: "Step 1 of 6" in text_of(posts))
    assert "mail.aliyun.com" in text_of(posts[-1:])
    # the next button click goes on with the same conversation
    value = slack_buttons(posts[-1:])["Done, next step"]
    post_interaction(webhook, block_actions(c["channel"], c["user"], "Done, next step", value))
    fake_slack.wait_for(c["channel"], lambda posts: "Step 2 of 6" in text_of(posts))


def test_six_buttons_are_all_shown(webhook, fake_slack):
    c = conversation()
    post_json(webhook, message_event(c["channel"], c["user"], "🙂🔥🙂"))  # topics + "Something else"
    posts = fake_slack.wait_for(c["channel"], lambda posts: slack_buttons(posts))
    buttons = slack_buttons(posts)
    assert len(buttons) == 6 and buttons["Something else"] == "/out_of_scope"


def test_badly_signed_requests_are_refused(webhook, fake_slack):
    c = conversation()
    body = message_event(c["channel"], c["user"], "I forgot my password")
    assert post_json(webhook, body, secret="not-the-secret").status_code in (400, 401)
    raw = json.dumps(body).encode()
    unsigned = requests.post(webhook, data=raw, headers={"Content-Type": "application/json"}, timeout=30)
    assert unsigned.status_code in (400, 401)
    tampered = post_json(webhook, body, headers={"X-Slack-Signature": "v0=" + "0" * 64})
    assert tampered.status_code in (400, 401)
    time.sleep(QUIET_SECONDS)
    assert fake_slack.posts(c["channel"]) == []


def test_stale_timestamp_is_refused(webhook, fake_slack):
    c = conversation()
    body = message_event(c["channel"], c["user"], "I forgot my password")
    response = post_json(webhook, body, timestamp=int(time.time()) - 600)  # correctly signed, 10 min old
    assert response.status_code in (400, 401)
    time.sleep(QUIET_SECONDS)
    assert fake_slack.posts(c["channel"]) == []


def test_url_verification_echoes_the_challenge(webhook):
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    response = post_json(webhook, {"token": "x", "challenge": challenge, "type": "url_verification"})
    assert response.status_code == 200
    assert response.json() == {"challenge": challenge}
    assert post_json(
        webhook, {"challenge": challenge, "type": "url_verification"}, secret="not-the-secret"
    ).status_code in (400, 401)


def test_retries_and_redeliveries_are_not_answered_twice(webhook, fake_slack):
    c = conversation()
    body = message_event(c["channel"], c["user"], "I forgot my password")
    assert post_json(webhook, body).status_code == 200
    answered = len(fake_slack.settled(c["channel"]))

    retry = post_json(webhook, body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code == 200 and retry.headers.get("X-Slack-No-Retry") == "1"
    # any retry reason, even for an event never seen (e.g. its first delivery was lost)
    other = message_event(c["channel"], c["user"], "how long is the sms code valid")
    assert (
        post_json(webhook, other, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"}).status_code
        == 200
    )
    # the same event delivered again without retry headers: caught by its event_id
    assert post_json(webhook, body).status_code == 200
    time.sleep(QUIET_SECONDS)
    assert len(fake_slack.posts(c["channel"])) == answered

    # the conversation itself goes on: a new event is answered
    post_json(webhook, message_event(c["channel"], c["user"], "help"))
    fake_slack.wait_for(c["channel"], lambda posts: len(posts) > answered)


def test_bot_messages_and_malformed_bodies_are_not_answered(webhook, slack_servers, fake_slack):
    c = conversation()
    echo = message_event(c["channel"], BOT_USER, "Step 1 of 6: …")
    echo["event"]["bot_id"] = "BFAKE"  # the bot's own message coming back as an event
    assert post_json(webhook, echo).status_code == 200
    raw = b"{not json"
    assert (
        requests.post(webhook, data=raw, headers=signed_headers(raw, "application/json"), timeout=30).status_code == 400
    )
    raw = urlencode({"payload": "{not json"}).encode()
    assert (
        requests.post(
            webhook, data=raw, headers=signed_headers(raw, "application/x-www-form-urlencoded"), timeout=30
        ).status_code
        == 400
    )
    time.sleep(QUIET_SECONDS)
    assert fake_slack.posts(c["channel"]) == []
    assert slack_servers.alive()


@pytest.fixture(scope="module")
def unconfigured_rasa(shared_servers: SharedServers):
    """Servers with the Slack channel (credentials.yml) but without its environment variables."""
    running = shared_servers.get(identity_config())
    return running.rasa_url, running.rasa_log


def test_without_token_and_secret_the_server_starts_and_slack_gets_503(unconfigured_rasa):
    url, log = unconfigured_rasa
    raw = json.dumps(message_event("D1", "U1", "hi")).encode()
    response = requests.post(
        f"{url}/webhooks/slack/webhook", data=raw, headers=signed_headers(raw, "application/json"), timeout=30
    )
    assert response.status_code == 503
    challenge = post_json(f"{url}/webhooks/slack/webhook", {"challenge": "c", "type": "url_verification"})
    assert challenge.status_code == 503
    assert requests.get(f"{url}/webhooks/slack/webhook", timeout=30).status_code == 503
    # the other channels keep working
    assert (
        requests.post(f"{url}/webhooks/rest/webhook", json={"sender": "s", "message": "hi"}, timeout=60).status_code
        == 200
    )
    assert "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET unset" in log.read_text()
