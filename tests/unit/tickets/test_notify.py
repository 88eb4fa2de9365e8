"""Ticket notifications: payload shapes, DingTalk signing, delivery, retries and timeouts
against a fake webhook server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Optional

import pytest

from core.settings import Settings, SettingsError, get_settings
from tests.fake_http import RecordingServer
from tickets import notify
from tickets.store import NewTicket, Ticket, TicketStore

WEBHOOK_ENV = (
    "TICKET_WEBHOOK_URL",
    "TICKET_WEBHOOK_FORMAT",
    "TICKET_WEBHOOK_SECRET",
    "TICKET_WEBHOOK_TIMEOUT",
    "TICKET_WEBHOOK_RETRIES",
    "STAFF_LANGUAGE",
)
SECRET = "SEC-test-secret-0123456789"
TOKEN = "tok-abcdef-0123"


# -- fake webhook server ------------------------------------------------------------
# Records every request; answers with the queued `statuses` (then 200), or never answers while `hang` is set.
FakeWebhook = RecordingServer


@pytest.fixture
def server() -> Iterator[FakeWebhook]:
    fake = FakeWebhook(responder=lambda record: (200, {"errcode": 0, "errmsg": "ok"}))
    yield fake
    fake.close()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in WEBHOOK_ENV:
        monkeypatch.delenv(name, raising=False)


def configure(monkeypatch: pytest.MonkeyPatch, url: str, **values: Any) -> None:
    monkeypatch.setenv("TICKET_WEBHOOK_URL", url)
    for name, value in values.items():
        monkeypatch.setenv(f"TICKET_WEBHOOK_{name.upper()}", str(value))
    get_settings.cache_clear()  # settings are read once per process


def make_ticket(**changes: Any) -> Ticket:
    stamp = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    values: Dict[str, Any] = dict(
        number=42,
        created_at=stamp,
        updated_at=stamp,
        status="open",
        priority="high",
        queue="postmaster",
        assignee=None,
        problem="blocked_by_provider",
        error_code="550 5.7.1",
        steps_tried=["spf", "dkim"],
        is_postmaster=True,
        contact_email="ops@example.com",
        description="Mail to gmail bounces.",
        eml_delivery=None,
        language="en",
        channel="rest",
        sender_id="user-1",
        transcript=[{"who": "user", "text": "SECRET TRANSCRIPT"}],
    )
    values.update(changes)
    return Ticket(**values)


def wait_done(thread: Optional[threading.Thread], limit: float = 5.0) -> None:
    assert thread is not None
    thread.join(limit)
    assert not thread.is_alive(), "notification thread still running"


# -- payload builders -------------------------------------------------------------------
def test_json_payload_has_the_facts_and_no_transcript() -> None:
    payload = notify.json_payload(make_ticket())
    assert payload["event"] == "ticket.created"
    ticket = payload["ticket"]
    assert set(ticket) == {
        "id",
        "created_at",
        "status",
        "priority",
        "queue",
        "problem",
        "error_code",
        "steps_tried",
        "is_postmaster",
        "contact_email",
        "channel",
        "language",
        "description",
    }
    assert ticket["id"] == "ALM-000042"
    assert ticket["created_at"] == "2024-05-06T07:08:09+00:00"
    assert ticket["steps_tried"] == ["spf", "dkim"] and ticket["is_postmaster"] is True
    assert "SECRET TRANSCRIPT" not in json.dumps(payload)


def test_staff_messages_use_the_staff_language(monkeypatch: pytest.MonkeyPatch) -> None:
    ticket = make_ticket(
        problem="eso_local_spam", priority="High", queue="support", language="zh", description="收到ESO_LOCAL_SPAM退信"
    )
    english = notify.dingtalk_payload(ticket)["markdown"]["text"]
    assert "New ticket ALM-000042 (High, support)" in english
    assert (
        "**Conversation language:** Chinese" in english
        and "**Problem:** Mail bounced with ESO\\_LOCAL\\_SPAM" in english
    )
    monkeypatch.setenv("STAFF_LANGUAGE", "zh")
    get_settings.cache_clear()
    chinese = notify.dingtalk_payload(ticket)["markdown"]["text"]
    assert "新工单 ALM-000042（高，技术支持）" in chinese
    assert "**对话语言:** 中文" in chinese and "**优先级:** 高" in chinese
    assert "> 收到ESO\\_LOCAL\\_SPAM退信" in chinese  # the user's words as written (Markdown-escaped)
    slack = notify.slack_payload(ticket)["blocks"][0]["text"]["text"]
    assert "*问题描述:*" in slack and "*是否邮箱管理员:* 是" in slack
    monkeypatch.setenv("STAFF_LANGUAGE", "fr")  # not in the knowledge file: the default language
    get_settings.cache_clear()
    assert "New ticket" in notify.dingtalk_payload(ticket)["markdown"]["text"]


def test_markdown_and_mrkdwn_neutralise_user_text() -> None:
    evil = (
        "# Heading\n- list\n1. numbered\n[click](http://evil.example) ![img](http://x/y.png) <b>html</b> "
        "**bold** `code` <!channel> <@U123> @here ```fence```\u202eRTL"
    )
    ticket = make_ticket(description=evil, problem="*x*", error_code="<http://evil|y>")
    markdown = notify.dingtalk_payload(ticket)["markdown"]["text"]
    assert "\n# Heading" not in markdown and "> \\# Heading" in markdown
    assert "> \\- list" in markdown and "> 1\\. numbered" in markdown
    assert "[click](" not in markdown and "\\[click\\]" in markdown
    assert "<b>" not in markdown and "```" not in markdown and "**bold**" not in markdown
    assert "\u202e" not in markdown
    assert "\\*x\\*" in markdown

    slack = notify.slack_payload(ticket)
    text = slack["blocks"][0]["text"]["text"]
    for raw in ("<!channel>", "<@U123>", "<http://evil|y>", "<b>", "@here"):
        assert raw not in text and raw not in slack["text"]
    assert "&lt;!channel&gt;" in text and "&lt;@U123&gt;" in text


def test_long_description_is_cut() -> None:
    ticket = make_ticket(description="a" * 10_000)
    assert len(notify.slack_payload(ticket)["blocks"][0]["text"]["text"]) < 3000
    assert len(notify.dingtalk_payload(ticket)["markdown"]["text"]) < 3000
    assert notify.json_payload(ticket)["ticket"]["description"] == "a" * 10_000  # machine format: verbatim


def test_signing_matches_the_dingtalk_recipe() -> None:
    timestamp = 1_700_000_000_123
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert notify.dingtalk_sign(SECRET, timestamp) == urllib.parse.quote_plus(expected)
    url = notify.signed_url(f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}", SECRET, timestamp)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query == {"access_token": [TOKEN], "timestamp": [str(timestamp)], "sign": [expected]}


# -- delivery ---------------------------------------------------------------------------
def test_json_format_is_posted(server: FakeWebhook, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, f"{server.url}/hooks/tickets?x=1")
    wait_done(notify.notify_ticket_created(make_ticket()))
    assert len(server.requests) == 1
    request = server.requests[0]
    assert request["method"] == "POST" and request["path"] == "/hooks/tickets"
    assert request["query"] == {"x": ["1"]}
    assert request["content_type"] == "application/json"
    assert request["json"] == notify.json_payload(make_ticket())


def test_dingtalk_format_is_posted_signed(
    server: FakeWebhook, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    configure(monkeypatch, f"{server.url}/robot/send?access_token={TOKEN}", format="dingtalk", secret=SECRET)
    caplog.set_level(logging.DEBUG, logger="tickets.notify")
    before = int(time.time() * 1000)
    wait_done(notify.notify_ticket_created(make_ticket()))
    after = int(time.time() * 1000)
    assert len(server.requests) == 1
    request = server.requests[0]
    assert request["path"] == "/robot/send"
    query = request["query"]
    assert query["access_token"] == [TOKEN]
    timestamp = int(query["timestamp"][0])
    assert before <= timestamp <= after
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected]
    body = request["json"]
    assert body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"title", "text"}
    assert "ALM-000042" in body["markdown"]["title"]
    for fact in ("ALM-000042", "high", "postmaster", "550 5.7.1", "ops@example.com", "Mail to gmail bounces"):
        assert fact in body["markdown"]["text"]
    assert "delivered" in caplog.text
    assert SECRET not in caplog.text and TOKEN not in caplog.text


def test_slack_format_is_posted(server: FakeWebhook, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, f"{server.url}/services/T0/B0/xyz", format="slack")
    wait_done(notify.notify_ticket_created(make_ticket()))
    assert len(server.requests) == 1
    body = server.requests[0]["json"]
    assert set(body) == {"text", "blocks"}
    assert "ALM-000042" in body["text"]
    (block,) = body["blocks"]
    assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
    for fact in ("ALM-000042", "high", "postmaster", "550 5.7.1", "ops@example.com", "Mail to gmail bounces"):
        assert fact in block["text"]["text"]


def test_retry_after_server_error(
    server: FakeWebhook, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    configure(monkeypatch, f"{server.url}/hook", retries=3, timeout=2)
    caplog.set_level(logging.INFO, logger="tickets.notify")
    server.statuses = [500]
    wait_done(notify.notify_ticket_created(make_ticket()))
    assert len(server.requests) == 2
    assert server.requests[0]["json"] == server.requests[1]["json"]
    assert "delivered" in caplog.text and "attempt 2" in caplog.text


def test_client_error_is_not_retried(
    server: FakeWebhook, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    configure(monkeypatch, f"{server.url}/hook", retries=3)
    server.statuses = [404, 404, 404]
    wait_done(notify.notify_ticket_created(make_ticket()))
    assert len(server.requests) == 1
    assert "HTTP 404" in caplog.text


def test_unanswered_requests_time_out_in_the_background(
    server: FakeWebhook, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    timeout, attempts = 0.3, 2
    configure(
        monkeypatch,
        f"{server.url}/hook?access_token={TOKEN}",
        timeout=timeout,
        retries=attempts,
        format="dingtalk",
        secret=SECRET,
    )
    server.hang = True
    crashes: List[Any] = []
    monkeypatch.setattr(threading, "excepthook", crashes.append)

    started = time.monotonic()
    thread = notify.notify_ticket_created(make_ticket())
    assert time.monotonic() - started < 0.2  # the caller doesn't wait
    assert thread is not None and thread.daemon

    budget = timeout * attempts + sum(notify.BACKOFF_SECONDS[: attempts - 1]) + 1.0
    thread.join(budget)
    assert not thread.is_alive()
    assert time.monotonic() - started < budget
    assert crashes == []
    assert len(server.requests) == attempts
    assert "failed after 2 attempt(s)" in caplog.text
    assert SECRET not in caplog.text and TOKEN not in caplog.text


def test_unreachable_server_fails_quietly(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(notify, "BACKOFF_SECONDS", (0.01,))
    configure(monkeypatch, "http://127.0.0.1:1/hook", retries=2, timeout=1)
    wait_done(notify.notify_ticket_created(make_ticket()))
    assert "failed after 2 attempt(s): ConnectionError" in caplog.text


def test_no_url_sends_nothing(server: FakeWebhook, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKET_WEBHOOK_FORMAT", "slack")
    assert notify.notify_ticket_created(make_ticket()) is None
    monkeypatch.setenv("TICKET_WEBHOOK_URL", "   ")
    get_settings.cache_clear()
    assert notify.notify_ticket_created(make_ticket()) is None
    monkeypatch.setenv("TICKET_WEBHOOK_URL", "ftp://example.com/hook")  # not http(s): nothing, with a warning
    get_settings.cache_clear()
    assert notify.notify_ticket_created(make_ticket()) is None
    time.sleep(0.1)
    assert server.requests == []


def test_settings_give_the_config(server: FakeWebhook) -> None:
    settings = Settings(
        ticket_webhook_url=f"{server.url}/hook",
        ticket_webhook_format="slack",
        ticket_webhook_secret=SECRET,
        ticket_webhook_timeout=2.5,
        ticket_webhook_retries=4,
    )
    config = notify.load_config(settings)
    assert config is not None
    assert (config.url, config.fmt, config.secret, config.timeout, config.attempts) == (
        f"{server.url}/hook",
        "slack",
        SECRET,
        2.5,
        4,
    )
    assert notify.load_config(Settings()) is None  # no URL: no notifications


def test_bad_settings_are_refused_with_their_names(server: FakeWebhook, monkeypatch: pytest.MonkeyPatch) -> None:
    """Invalid values stop the process at start (the action server reads the settings when it loads);
    a notification that still meets one is not sent, and the ticket is not disturbed."""
    configure(monkeypatch, f"{server.url}/hook", format="teams", timeout="soon", retries="-4")
    with pytest.raises(SettingsError) as refused:
        notify.load_config()
    message = str(refused.value)
    assert "TICKET_WEBHOOK_FORMAT='teams'" in message and "TICKET_WEBHOOK_TIMEOUT='soon'" in message
    assert "TICKET_WEBHOOK_RETRIES='-4'" in message
    assert notify.notify_ticket_created(make_ticket()) is None  # never raises
    time.sleep(0.1)
    assert server.requests == []


def test_ticket_from_the_store_is_delivered(
    server: FakeWebhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    store = TicketStore(f"sqlite:///{tmp_path / 'tickets.sqlite3'}")
    ticket, created = store.create(
        NewTicket(
            idempotency_key="notify-1",
            priority="normal",
            queue="support",
            contact_email="a@example.org",
            description="Cannot log in",
            channel="socketio",
            sender_id="s-1",
            transcript=[{"who": "user", "text": "hi"}],
        )
    )
    store.engine.dispose()
    configure(monkeypatch, f"{server.url}/hook")
    wait_done(notify.notify_ticket_created(ticket))
    sent = server.requests[0]["json"]["ticket"]
    assert sent["id"] == ticket.id and sent["queue"] == "support" and sent["is_postmaster"] is None
    assert sent["created_at"] == ticket.created_at.isoformat()


# -- signing the JSON format, and no redirects ----------------------------------------------
def test_json_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    body = b'{"event":"ticket.created"}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert notify.json_signature(SECRET, 1_700_000_000, body) == f"sha256={expected}"
    assert notify.signature_headers(SECRET, body, 1_700_000_000) == {
        "X-Alimail-Timestamp": "1700000000",
        "X-Alimail-Signature": f"sha256={expected}",
    }
    assert notify.json_signature(SECRET, 1_700_000_001, body) != f"sha256={expected}"  # the time is signed too


def test_json_format_with_a_secret_is_signed_in_headers(server: FakeWebhook, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, f"{server.url}/hook?x=1", secret=SECRET)
    before = int(time.time())
    wait_done(notify.notify_ticket_created(make_ticket()))
    (request,) = server.requests
    assert request["query"] == {"x": ["1"]}  # the URL is not touched (DingTalk's signing is not used)
    stamp = request["headers"]["x-alimail-timestamp"]
    assert before <= int(stamp) <= int(time.time())
    expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + request["raw"], hashlib.sha256).hexdigest()
    assert request["headers"]["x-alimail-signature"] == f"sha256={expected}"
    assert request["json"] == notify.json_payload(make_ticket())


@pytest.mark.parametrize("fmt", ["json", "slack", "dingtalk"])
def test_without_a_secret_or_in_other_formats_nothing_is_signed_in_headers(
    server: FakeWebhook, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    values = {"format": fmt} if fmt == "json" else {"format": fmt, "secret": SECRET}
    configure(monkeypatch, f"{server.url}/hook", **values)
    wait_done(notify.notify_ticket_created(make_ticket()))
    (request,) = server.requests
    assert "x-alimail-signature" not in request["headers"] and "x-alimail-timestamp" not in request["headers"]
    assert ("sign" in request["query"]) == (fmt == "dingtalk")  # slack: the URL is its credential


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed_nor_retried(
    server: FakeWebhook, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    elsewhere = FakeWebhook()
    try:
        server.responder = lambda record: (status, {}, {"Location": f"{elsewhere.url}/collect"})
        configure(monkeypatch, f"{server.url}/hook", retries=3)
        wait_done(notify.notify_ticket_created(make_ticket()))
        assert len(server.requests) == 1
        assert elsewhere.snapshot() == []
        assert f"HTTP {status} (redirects are not followed)" in caplog.text
    finally:
        elsewhere.close()
