"""channels/webchat.py: identity from JWT claims, the widget's static files, and the socket.io handlers
(connection with or without a token, session rooms, messages and their metadata), driven in-process:
a socket.io client over Engine.IO long-polling, through Sanic's ASGI interface."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import jwt
import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from channels.webchat import (
    DEFAULT_STATIC_DIR,
    IDENTITY_KEY,
    MAX_MESSAGE_CHARS,
    WebChatInput,
    identity_from_claims,
    session_id_for,
)
from core.settings import Settings
from tests.asgi_client import AsgiClient, Response

JWT_KEY = "webchat-unit-test-secret-0123456789"
PAGE = "/webhooks/socketio/webchat/"
NO_SETTINGS = Settings.from_environ({})  # every setting at its default, whatever this process's environment


# -- identity ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "claims, identity",
    [
        ({"employee_id": "e42", "email": "ann@corp.example"}, {"employee_id": "e42", "email": "ann@corp.example"}),
        ({"sub": "u-7"}, {"employee_id": "u-7"}),
        ({"employee_id": "e1", "sub": "other"}, {"employee_id": "e1"}),
        ({"employee_id": 1234}, {"employee_id": "1234"}),
        ({"employee_id": "  ann.lee@corp  "}, {"employee_id": "ann.lee@corp"}),
        ({"employee_id": "../../etc/<script>"}, {"employee_id": "....etcscript"}),
        ({"employee_id": "x" * 300}, {"employee_id": "x" * 128}),
        ({"employee_id": "e2", "email": " ann@corp.example "}, {"employee_id": "e2", "email": "ann@corp.example"}),
        ({"employee_id": "e3", "email": "not-an-address"}, {"employee_id": "e3"}),
        ({"employee_id": "e4", "email": "a@" + "b" * 260}, {"employee_id": "e4"}),
        ({"employee_id": "e5", "email": ["ann@corp.example"]}, {"employee_id": "e5"}),
    ],
)
def test_the_identity_is_the_employee_id_or_sub_cleaned_and_a_plausible_email(claims, identity):
    assert identity_from_claims(claims) == identity


@pytest.mark.parametrize(
    "claims",
    [None, "e42", [], {}, {"email": "ann@corp.example"}, {"employee_id": ""}, {"employee_id": "   "},
     {"employee_id": True}, {"employee_id": None, "sub": None}, {"employee_id": "<>/"}, {"employee_id": ["e1"]}],
)  # fmt: skip
def test_claims_that_name_no_employee_give_no_identity(claims):
    assert identity_from_claims(claims) is None


def test_the_session_of_an_employee_is_named_after_them():
    assert session_id_for({"employee_id": "e42", "email": "ann@corp.example"}) == "employee-e42"


# -- configuration -----------------------------------------------------------------------------------
def test_credentials_give_the_events_the_key_and_the_static_folder(tmp_path):
    channel = WebChatInput.from_credentials(
        {
            "user_message_evt": "say",
            "bot_message_evt": "hear",
            "session_persistence": True,
            "jwt_key": JWT_KEY,
            "static_dir": str(tmp_path),
        },
        NO_SETTINGS,
    )
    assert isinstance(channel, WebChatInput)
    assert (channel.user_message_evt, channel.bot_message_evt, channel.session_persistence) == ("say", "hear", True)
    assert (channel.jwt_key, channel.jwt_algorithm, channel.static_dir) == (JWT_KEY, "HS256", tmp_path)
    assert WebChatInput.name() == "socketio" and channel.url_prefix() == "socketio"


def test_without_credentials_the_defaults_of_rasas_socketio_channel_apply():
    channel = WebChatInput.from_credentials(None, NO_SETTINGS)
    assert isinstance(channel, WebChatInput)
    assert (channel.user_message_evt, channel.bot_message_evt) == ("user_uttered", "bot_uttered")
    assert channel.session_persistence is False and channel.socketio_path == "/socket.io"
    assert channel.jwt_key is None and channel.static_dir == DEFAULT_STATIC_DIR


def test_the_jwt_key_comes_from_the_settings_unless_the_credentials_name_one():
    settings = Settings.from_environ({"WEBCHAT_JWT_KEY": f"  {JWT_KEY}  "})
    from_settings = WebChatInput.from_credentials({"session_persistence": True}, settings)
    from_credentials = WebChatInput.from_credentials({"jwt_key": "credentials-key"}, settings)
    assert isinstance(from_settings, WebChatInput) and isinstance(from_credentials, WebChatInput)
    assert (from_settings.jwt_key, from_credentials.jwt_key) == (JWT_KEY, "credentials-key")


# -- the app -----------------------------------------------------------------------------------------
Received = List[UserMessage]
Scenario = Callable[[AsgiClient, Received], Awaitable[Any]]


def run_chat(channel: WebChatInput, scenario: Scenario, reply: Optional[str] = None) -> Tuple[Any, Received]:
    """Runs `scenario(client, received)` against an app serving the channel; `received` collects what
    reached Rasa, and each message is answered with `reply` (when given) through its output channel."""
    received: Received = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)
        if reply is not None:
            await message.output_channel.send_text_message(message.sender_id, reply)

    async def main() -> Any:
        app = Sanic(f"webchat_test_{uuid.uuid4().hex}")
        app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/socketio")
        async with AsgiClient(app) as client:
            return await scenario(client, received)

    return asyncio.run(main()), received


def get(channel: WebChatInput, *paths: str) -> List[Response]:
    async def scenario(client: AsgiClient, _: Received) -> List[Response]:
        return [await client.request("GET", path) for path in paths]

    responses, _ = run_chat(channel, scenario)
    return responses


# -- static files ------------------------------------------------------------------------------------
@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "webchat"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html><title>chat</title>")
    (folder / "widget.js").write_text("console.log('widget');")
    (folder / "widget.css").write_text("body{}")
    (folder / "data.bin").write_bytes(b"\x00\x01")
    (folder / ".hidden").write_text("secret")
    (folder / "sub").mkdir()
    (tmp_path / "outside.txt").write_text("outside the folder")
    os.symlink(tmp_path / "outside.txt", folder / "link.txt")
    return folder


def channel_serving(folder: Path, **credentials: Any) -> WebChatInput:
    channel = WebChatInput.from_credentials({"static_dir": str(folder), **credentials}, NO_SETTINGS)
    assert isinstance(channel, WebChatInput)
    return channel


def test_the_demo_page_and_the_widget_are_served_with_their_types(static_dir):
    page, script, style, other = get(
        channel_serving(static_dir), PAGE, PAGE + "widget.js", PAGE + "widget.css", PAGE + "data.bin"
    )
    assert page[0] == 200 and page[2] == b"<!doctype html><title>chat</title>"
    assert page[1]["content-type"] == "text/html; charset=utf-8"
    assert page[1]["content-security-policy"].startswith("default-src 'self'")
    assert page[1]["x-frame-options"] == "DENY" and page[1]["referrer-policy"] == "no-referrer"
    assert script[0] == 200 and script[2] == b"console.log('widget');"
    assert script[1]["content-type"] == "text/javascript; charset=utf-8"
    assert "content-security-policy" not in script[1]
    assert style[1]["content-type"] == "text/css; charset=utf-8"
    assert other[1]["content-type"] == "application/octet-stream"
    for _, headers, _ in (page, script, style, other):
        assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-cache"


def test_the_page_without_its_slash_is_redirected_to_it(static_dir):
    (response,) = get(channel_serving(static_dir), PAGE.rstrip("/"))
    assert response[0] == 302 and response[1]["location"] == PAGE


@pytest.mark.parametrize(
    "name",
    ["nope.js", ".hidden", "sub", "link.txt", "a..b.js", "..%2Foutside.txt", "%2e%2e%2foutside.txt", "x" * 101],
)
def test_nothing_but_plain_files_of_the_folder_is_served(static_dir, name):
    ((status, _, body),) = get(channel_serving(static_dir), PAGE + name)
    assert status in (400, 404)
    assert b"outside the folder" not in body and b"secret" not in body


def test_a_missing_build_is_named(tmp_path):
    page, script = get(channel_serving(tmp_path / "missing"), PAGE, PAGE + "widget.js")
    assert page[0] == script[0] == 404
    assert b"run `make webchat`" in page[2] and b"run `make webchat`" in script[2]


def test_the_health_route_answers_ok(static_dir):
    ((status, _, body),) = get(channel_serving(static_dir), "/webhooks/socketio/")
    assert status == 200 and json.loads(body) == {"status": "ok"}


# -- socket.io -----------------------------------------------------------------------------------------
Packet = Tuple[str, Any]  # ("connect", data) | ("connect_error", data) | ("event", [name, *args])


class SocketIoClient:
    """Socket.IO 5 over Engine.IO 4 long-polling, through the app's ASGI interface (namespace "/")."""

    def __init__(self, client: AsgiClient, path: str = "/socket.io/") -> None:
        self.client, self.path, self.eio_sid = client, path, ""

    def _url(self) -> str:
        return f"{self.path}?EIO=4&transport=polling" + (f"&sid={self.eio_sid}" if self.eio_sid else "")

    async def _post(self, text: str) -> None:
        status, _, body = await self.client.request(
            "POST", self._url(), text.encode(), {"Content-Type": "text/plain;charset=UTF-8"}
        )
        assert (status, body) == (200, b"OK"), (status, body)

    async def connect(self, auth: Optional[Dict[str, Any]] = None) -> Packet:
        """Opens the Engine.IO session and connects to the namespace: ("connect", {"sid"}) or ("connect_error", …)."""
        status, _, body = await self.client.request("GET", self._url())
        assert status == 200 and body.startswith(b"0"), body
        self.eio_sid = json.loads(body[1:])["sid"]
        await self._post("40" + (json.dumps(auth) if auth is not None else ""))
        (packet,) = await self.receive()
        return packet

    async def emit(self, event: str, *args: Any) -> None:
        await self._post("42" + json.dumps([event, *args]))

    async def receive(self, timeout: float = 5.0) -> List[Packet]:
        """The packets waiting for this client (long-polls until there is at least one)."""
        status, _, body = await self.client.request("GET", self._url(), timeout=timeout)
        assert status == 200, body
        packets: List[Packet] = []
        for raw in body.decode().split("\x1e"):
            if not raw.startswith("4"):
                continue  # Engine.IO pings and no-ops
            kind, data = raw[1], raw[2:]
            name = {"0": "connect", "2": "event", "4": "connect_error"}[kind]
            packets.append((name, json.loads(data) if data else None))
        return packets

    async def sync(self) -> None:
        """Waits until the events sent before have been handled: the server handles each event in a task
        of its own, in order, and answers a session request only after the earlier ones."""
        await self.emit("session_request", {"session_id": "sync"})
        assert [args[0] for _, args in await self.receive()] == ["session_confirm"]


def socket_channel(**credentials: Any) -> WebChatInput:
    channel = WebChatInput.from_credentials(credentials, NO_SETTINGS)
    assert isinstance(channel, WebChatInput)
    return channel


def token(claims: Dict[str, Any], key: str = JWT_KEY, **headers: Any) -> str:
    return jwt.encode(claims, key, algorithm="HS256", headers=headers or None)


def test_with_session_persistence_the_requested_session_is_joined_and_gets_the_replies():
    async def scenario(client: AsgiClient, received: Received) -> List[Packet]:
        sio = SocketIoClient(client)
        assert (await sio.connect())[0] == "connect"
        await sio.emit("session_request", {"session_id": "  s-123  "})
        confirm = await sio.receive()
        await sio.emit("user_uttered", {"message": "hello", "session_id": "s-123"})
        return confirm + await sio.receive()

    packets, received = run_chat(socket_channel(session_persistence=True), scenario, reply="Hi there")
    # The reply is sent to the room "s-123": it arrives only because session_request joined it.
    assert packets == [("event", ["session_confirm", "s-123"]), ("event", ["bot_uttered", {"text": "Hi there"}])]
    (message,) = received
    assert (message.text, message.sender_id, message.input_channel) == ("hello", "s-123", "socketio")
    assert message.metadata == {}


def test_with_session_persistence_a_message_without_session_id_is_dropped():
    async def scenario(client: AsgiClient, received: Received) -> None:
        sio = SocketIoClient(client)
        await sio.connect()
        for data in ({"message": "hello"}, {"message": "hello", "session_id": "  "}, {"message": "x", "session_id": 7}):
            await sio.emit("user_uttered", data)
        await sio.sync()

    _, received = run_chat(socket_channel(session_persistence=True), scenario)
    assert received == []


def test_without_a_requested_session_a_new_id_is_made():
    async def scenario(client: AsgiClient, received: Received) -> List[Packet]:
        sio = SocketIoClient(client)
        await sio.connect()
        await sio.emit("session_request")
        first = await sio.receive()
        await sio.emit("session_request", {"session_id": 42})
        return first + await sio.receive()

    packets, _ = run_chat(socket_channel(session_persistence=True), scenario)
    ids = [args[1] for _, args in packets]
    assert [args[0] for _, args in packets] == ["session_confirm", "session_confirm"]
    assert all(re.fullmatch(r"[0-9a-f]{32}", session) for session in ids) and ids[0] != ids[1]


def test_without_session_persistence_the_socket_is_the_sender_and_gets_the_replies():
    async def scenario(client: AsgiClient, received: Received) -> Tuple[str, List[Packet]]:
        sio = SocketIoClient(client)
        _, data = await sio.connect()
        await sio.emit("user_uttered", {"message": "hello", "session_id": "ignored"})
        return data["sid"], await sio.receive()

    (sid, packets), received = run_chat(socket_channel(), scenario, reply="Hi")
    assert [message.sender_id for message in received] == [sid]
    assert packets == [("event", ["bot_uttered", {"text": "Hi"}])]


def test_message_text_and_metadata_are_cleaned_and_a_client_cannot_claim_an_identity():
    spoof = {"employee_id": "boss", "email": "boss@corp.example"}
    messages: List[Any] = [
        {"message": "a" * (MAX_MESSAGE_CHARS + 50), "metadata": {"page": "/help", IDENTITY_KEY: spoof}},
        {"message": 12, "metadata": json.dumps({"page": "/x", IDENTITY_KEY: spoof})},
        {"message": "bad json", "metadata": "{oops"},
        {"message": "a list", "metadata": ["x"]},
        "not a mapping",
        ["neither"],
    ]

    async def scenario(client: AsgiClient, received: Received) -> None:
        sio = SocketIoClient(client)
        await sio.connect()
        for data in messages:
            await sio.emit("user_uttered", data)
        await sio.sync()

    _, received = run_chat(socket_channel(), scenario)
    assert [(len(m.text), m.metadata) for m in received] == [
        (MAX_MESSAGE_CHARS, {"page": "/help"}),
        (0, {"page": "/x"}),
        (len("bad json"), {}),
        (len("a list"), {}),
    ]


def test_the_configured_events_are_used():
    async def scenario(client: AsgiClient, received: Received) -> List[Packet]:
        sio = SocketIoClient(client)
        await sio.connect()
        await sio.emit("user_uttered", {"message": "ignored event"})
        await sio.emit("say", {"message": "hello"})
        return await sio.receive()

    packets, received = run_chat(socket_channel(user_message_evt="say", bot_message_evt="hear"), scenario, reply="ok")
    assert [m.text for m in received] == ["hello"]
    assert packets == [("event", ["hear", {"text": "ok"}])]


@pytest.mark.parametrize(
    "auth",
    [
        None,
        {},
        {"token": ""},
        {"token": 42},
        {"token": "not-a-jwt"},
        {"token": token({"employee_id": "e42"}, key="another-key-0123456789abcdef0123")},
        {"token": token({"employee_id": "e42", "exp": int(time.time()) - 60})},
        {"token": token({"email": "ann@corp.example"})},
    ],
    ids=["no-auth", "no-token", "empty", "not-a-string", "garbage", "wrong-key", "expired", "no-employee"],
)
def test_with_a_jwt_key_a_connection_needs_a_valid_token_naming_an_employee(auth):
    async def scenario(client: AsgiClient, received: Received) -> Packet:
        return await SocketIoClient(client).connect(auth)

    packet, _ = run_chat(socket_channel(jwt_key=JWT_KEY), scenario)
    assert packet[0] == "connect_error"


def test_with_a_token_the_employee_is_the_sender_and_the_verified_identity_is_in_the_metadata():
    valid = token({"employee_id": "e42", "email": "ann@corp.example", "exp": int(time.time()) + 600})

    async def scenario(client: AsgiClient, received: Received) -> List[Packet]:
        sio = SocketIoClient(client)
        assert (await sio.connect({"token": valid}))[0] == "connect"
        await sio.emit("session_request", {"session_id": "employee-boss"})
        packets = await sio.receive()
        spoof = {IDENTITY_KEY: {"employee_id": "boss"}, "page": "/help"}
        await sio.emit("user_uttered", {"message": "hello", "session_id": "employee-boss", "metadata": spoof})
        return packets + await sio.receive()

    # Session persistence is off, yet the employee's room is joined: the token decides the session.
    packets, received = run_chat(socket_channel(jwt_key=JWT_KEY), scenario, reply="Hi Ann")
    assert packets == [("event", ["session_confirm", "employee-e42"]), ("event", ["bot_uttered", {"text": "Hi Ann"}])]
    (message,) = received
    assert message.sender_id == "employee-e42"
    assert message.metadata == {"page": "/help", IDENTITY_KEY: {"employee_id": "e42", "email": "ann@corp.example"}}


def test_two_tabs_of_one_employee_share_the_conversation():
    valid = token({"sub": "e7"})

    async def scenario(client: AsgiClient, received: Received) -> Tuple[List[Packet], List[Packet]]:
        first, second = SocketIoClient(client), SocketIoClient(client)
        for tab in (first, second):  # the widget asks for its session when it connects
            await tab.connect({"token": valid})
            await tab.emit("session_request", {})
            assert await tab.receive() == [("event", ["session_confirm", "employee-e7"])]
        await first.emit("user_uttered", {"message": "from the first tab"})
        return await first.receive(), await second.receive()

    (first, second), received = run_chat(socket_channel(jwt_key=JWT_KEY), scenario, reply="shared")
    assert first == second == [("event", ["bot_uttered", {"text": "shared"}])]
    assert [m.sender_id for m in received] == ["employee-e7"]
