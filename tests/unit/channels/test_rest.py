"""channels/rest.py: the server decides the channel, the conversation id and the metadata; the token
guards every request; a malformed body is a 400, never a 500. (The real servers: tests/security/.)"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Dict, List, Optional, Tuple

import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from channels.rest import CONVERSATION_PREFIX, MAX_MESSAGE_CHARS, MAX_SENDER_CHARS, BadRequest, RestInput, parse_body
from core.settings import Settings
from tests.asgi_client import AsgiClient, Response

WEBHOOK = "/webhooks/rest/webhook"
TOKEN = "s3cret-rest-t0ken"
SPOOFED = {
    "sender": "employee-42",
    "message": "status of my tickets",
    "input_channel": "socketio",
    "metadata": {"verified_identity": {"employee_id": "42", "email": "ceo@corp.example"}, "language": "zh"},
}


def exchange(
    channel: RestInput, *requests: Tuple[str, str, bytes, Dict[str, str]], reply: str = "hello"
) -> Tuple[List[Response], List[UserMessage]]:
    """The responses to `requests` and the messages the channel handed to Rasa (each answered with `reply`)."""
    received: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)
        await message.output_channel.send_text_message(message.sender_id, reply)

    async def scenario() -> List[Response]:
        app = Sanic(f"rest_test_{uuid.uuid4().hex}")
        app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/rest")
        async with AsgiClient(app) as client:
            return [await client.request(method, path, body, headers) for method, path, body, headers in requests]

    return asyncio.run(scenario()), received


def post(body: Any, token: Optional[str] = None, raw: Optional[bytes] = None) -> Tuple[str, str, bytes, Dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return ("POST", WEBHOOK, raw if raw is not None else json.dumps(body).encode(), headers)


def test_the_body_cannot_choose_the_channel_the_conversation_or_the_metadata():
    (response,), (message,) = exchange(RestInput(), post(SPOOFED))
    assert response[0] == 200
    assert message.input_channel == "rest"
    assert message.sender_id == CONVERSATION_PREFIX + "employee-42" == "rest:employee-42"
    assert not message.metadata  # verified_identity and every other client key dropped
    assert message.text == "status of my tickets"
    # The client still sees its own sender id on the replies.
    assert json.loads(response[2]) == [{"recipient_id": "employee-42", "text": "hello"}]


def test_a_numeric_sender_is_taken_as_its_digits_as_rasa_does():
    _, (message,) = exchange(RestInput(), post({"sender": 42, "message": "hi"}))
    assert message.sender_id == "rest:42"


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"\xff\xfe",
        b"",
        b"[]",
        b'"text"',
        b"null",
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the JSON parser recurses
        json.dumps({"message": "hi"}).encode(),
        json.dumps({"sender": "", "message": "hi"}).encode(),
        json.dumps({"sender": "   ", "message": "hi"}).encode(),
        json.dumps({"sender": True, "message": "hi"}).encode(),
        json.dumps({"sender": ["a"], "message": "hi"}).encode(),
        json.dumps({"sender": "a" * (MAX_SENDER_CHARS + 1), "message": "hi"}).encode(),
        json.dumps({"sender": "me"}).encode(),
        json.dumps({"sender": "me", "message": None}).encode(),
        json.dumps({"sender": "me", "message": {"text": "hi"}}).encode(),
        json.dumps({"sender": "me", "message": "x" * (MAX_MESSAGE_CHARS + 1)}).encode(),
    ],
    ids=lambda raw: raw[:30].decode("utf-8", "replace"),
)
def test_a_malformed_body_is_a_400_with_a_json_error_and_reaches_nothing(raw):
    (response,), received = exchange(RestInput(), post(None, raw=raw))
    status, headers, body = response
    assert status == 400 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]
    assert received == []
    with pytest.raises(BadRequest):
        parse_body(raw)


def test_with_a_token_every_request_needs_the_bearer_header():
    channel = RestInput(TOKEN)
    responses, received = exchange(
        channel,
        post(SPOOFED),  # none
        post(SPOOFED, token="wrong"),
        post(SPOOFED, token=TOKEN + "x"),
        post(SPOOFED, token=""),
        ("POST", WEBHOOK, json.dumps(SPOOFED).encode(), {"Authorization": TOKEN}),  # no scheme
        ("POST", WEBHOOK, json.dumps(SPOOFED).encode(), {"Authorization": f"Basic {TOKEN}"}),
        ("POST", WEBHOOK, b"not json", {}),  # refused before the body is read: 401, not 400
        post(SPOOFED, token=TOKEN),
        ("POST", WEBHOOK, json.dumps(SPOOFED).encode(), {"Authorization": f"bearer  {TOKEN} "}),
    )
    assert [status for status, _, _ in responses] == [401] * 7 + [200, 200]
    for _, headers, body in responses[:7]:
        assert json.loads(body) == {"error": "missing or invalid bearer token"}
        assert headers["www-authenticate"] == "Bearer"
    assert len(received) == 2


def test_the_health_route_answers_without_a_token():
    (response,), _ = exchange(RestInput(TOKEN), ("GET", "/webhooks/rest/", b"", {}))
    assert response[0] == 200 and json.loads(response[2]) == {"status": "ok"}


def test_stream_mode_sends_each_reply_on_its_own_line_to_the_clients_sender():
    (response,), (message,) = exchange(
        RestInput(), ("POST", WEBHOOK + "?stream=true", json.dumps(SPOOFED).encode(), {})
    )
    assert response[0] == 200
    lines = [json.loads(line) for line in response[2].decode().splitlines() if line]
    assert lines == [{"recipient_id": "employee-42", "text": "hello"}]
    assert message.input_channel == "rest" and message.sender_id == "rest:employee-42" and not message.metadata


def test_a_failing_turn_returns_what_was_sent_and_logs_no_text(caplog):
    async def on_new_message(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "first")
        raise RuntimeError("boom")

    async def scenario() -> Response:
        app = Sanic(f"rest_test_{uuid.uuid4().hex}")
        app.blueprint(RestInput().blueprint(on_new_message), url_prefix="/webhooks/rest")
        async with AsgiClient(app) as client:
            return await client.request(*post({"sender": "me", "message": "my password is Hunter2"}))

    status, _, body = asyncio.run(scenario())
    assert status == 200 and json.loads(body) == [{"recipient_id": "me", "text": "first"}]
    assert "Handling a REST message failed" in caplog.text and "Hunter2" not in caplog.text


def test_credentials_take_the_token_from_the_settings():
    assert RestInput.from_credentials({}, Settings(rest_api_token=TOKEN)).token == TOKEN
    assert RestInput.from_credentials(None, Settings()).token is None
    assert RestInput.name() == "rest"  # so the URL stays /webhooks/rest/webhook
