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
    SessionSigner,
    WebChatInput,
    identity_from_claims,
    session_id_for,
    session_signer,
    startup_problem,
)
from core.settings import Settings, SettingsError
from tests.asgi_client import AsgiClient, Response

JWT_KEY = "webchat-unit-test-secret-0123456789"
PAGE = "/webhooks/socketio/webchat/"
NO_SETTINGS = Settings.from_environ({})  # every setting at its default, whatever this process's environment
SESSION_SECRET = "webchat-unit-session-secret-0123456789abcdef"
SIGNED = re.compile(r"[0-9a-f]{32}\.[A-Za-z0-9_-]{43}")
HOST = "chat.corp.example:5005"  # the Host the test requests name: the server's own origin is http://HOST


# -- identity ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "claims, identity",
    [
        ({"employee_id": "e42", "email": "ann@corp.example"}, {"employee_id": "e42", "email": "ann@corp.example"}),
        ({"sub": "u-7"}, {"employee_id": "u-7"}),
        ({"employee_id": "e1", "sub": "other"}, {"employee_id": "e1"}),
        ({"employee_id": 1234}, {"employee_id": "1234"}),
        ({"employee_id": "ann.lee@corp"}, {"employee_id": "ann.lee@corp"}),
        ({"employee_id": "x" * 128}, {"employee_id": "x" * 128}),
        ({"employee_id": "e2", "email": " ann@corp.example "}, {"employee_id": "e2", "email": "ann@corp.example"}),
        ({"employee_id": "e3", "email": "not-an-address"}, {"employee_id": "e3"}),
        ({"employee_id": "e4", "email": "a@" + "b" * 260}, {"employee_id": "e4"}),
        ({"employee_id": "e5", "email": ["ann@corp.example"]}, {"employee_id": "e5"}),
    ],
)
def test_the_identity_is_the_employee_id_or_sub_and_a_plausible_email(claims, identity):
    assert identity_from_claims(claims) == identity


@pytest.mark.parametrize(
    "claims",
    [None, "e42", [], {}, {"email": "ann@corp.example"}, {"employee_id": ""}, {"employee_id": "   "},
     {"employee_id": True}, {"employee_id": None, "sub": None}, {"employee_id": "<>/"}, {"employee_id": ["e1"]}],
)  # fmt: skip
def test_claims_that_name_no_employee_give_no_identity(claims):
    assert identity_from_claims(claims) is None


@pytest.mark.parametrize(
    "employee",
    ["4/2", "4 2", " 42", "42\n", "../../etc/<script>", "e42#", "é42", "４２", "x" * 129, "e4\u200b2"],
)
def test_an_employee_id_with_a_character_outside_the_allowed_set_is_refused_not_rewritten(employee):
    # Cleaning made "4/2" the same employee as "42" (and so the owner of 42's tickets).
    assert identity_from_claims({"employee_id": employee}) is None
    assert identity_from_claims({"sub": employee}) is None


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


def test_the_session_secret_signs_and_checks_session_ids():
    signer = SessionSigner(SESSION_SECRET)
    conversation, signed = signer.issue()
    assert re.fullmatch(r"[0-9a-f]{32}", conversation) and SIGNED.fullmatch(signed)
    assert signed.startswith(conversation + ".")
    assert signer.verify(signed) == conversation
    # Another process with the same secret agrees (replicas); another secret does not.
    assert SessionSigner(SESSION_SECRET.encode()).verify(signed) == conversation
    assert SessionSigner("another-secret-0123456789abcdef0123456789").verify(signed) is None
    other, _ = signer.issue()
    forged = [conversation, f"{other}.{signed.split('.')[1]}", signed[:-1] + ("A" if signed[-1] != "A" else "B"),
              signed + "=", " " + signed, signed.upper(), "", None, 42, ["x"], {"session_id": signed}]  # fmt: skip
    assert [signer.verify(candidate) for candidate in forged] == [None] * len(forged)
    assert len({signer.issue()[0] for _ in range(200)}) == 200


def test_the_session_secret_is_random_per_process_when_unset_but_required_in_production():
    unset_a, unset_b = session_signer(NO_SETTINGS), session_signer(NO_SETTINGS)
    _, signed = unset_a.issue()
    assert unset_a.verify(signed) and unset_b.verify(signed) is None
    production_without = Settings.from_environ({"ALIMAIL_PROFILE": "production"})
    assert "WEBCHAT_SESSION_SECRET is required" in (startup_problem(production_without) or "")
    assert startup_problem(NO_SETTINGS) is None
    with pytest.raises(SettingsError, match="WEBCHAT_SESSION_SECRET is required in the production profile"):
        WebChatInput.from_credentials({}, production_without)
    production = Settings.from_environ({"ALIMAIL_PROFILE": "production", "WEBCHAT_SESSION_SECRET": SESSION_SECRET})
    channel = WebChatInput.from_credentials({}, production)
    assert isinstance(channel, WebChatInput) and channel.signer is not None
    assert channel.signer.verify(SessionSigner(SESSION_SECRET).issue()[1])
    with pytest.raises(SettingsError, match=r"WEBCHAT_SESSION_SECRET=\(hidden\): ensure this value has at least 32"):
        Settings.from_environ({"WEBCHAT_SESSION_SECRET": "short"})


def test_allowed_origins_are_read_as_browsers_write_them():
    settings = Settings.from_environ(
        {
            "WEBCHAT_ALLOWED_ORIGINS": " HTTPS://Portal.Corp.example:443/ , http://127.0.0.1:5005,,https://portal.corp.example"
        }
    )
    assert settings.webchat_allowed_origins == ("https://portal.corp.example", "http://127.0.0.1:5005")
    channel = WebChatInput.from_credentials({}, settings)
    assert isinstance(channel, WebChatInput)
    assert channel.allowed_origins() == ["https://portal.corp.example", "http://127.0.0.1:5005"]
    default = WebChatInput.from_credentials({}, NO_SETTINGS)
    assert isinstance(default, WebChatInput) and default.allowed_origins() is None  # engine.io: the own origin
    for bad in ["*", "portal.corp.example", "ftp://portal", "https://portal/path", "https://u:p@portal", "http://x:0x"]:
        with pytest.raises(SettingsError, match="WEBCHAT_ALLOWED_ORIGINS"):
            Settings.from_environ({"WEBCHAT_ALLOWED_ORIGINS": bad})


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


def test_the_widget_gets_the_history_minutes_from_the_server_in_config_js(static_dir):
    for environ, minutes in (({}, 60), ({"WEBCHAT_HISTORY_MINUTES": "15"}, 15)):
        channel = WebChatInput.from_credentials({"static_dir": str(static_dir)}, Settings.from_environ(environ))
        assert isinstance(channel, WebChatInput)
        ((status, headers, body),) = get(channel, PAGE + "config.js")
        assert status == 200 and headers["content-type"] == "text/javascript; charset=utf-8"
        assert body.decode() == f'window.AlimailWebchatServerConfig = {{"historyMinutes": {minutes}}};\n'
        assert headers["x-content-type-options"] == "nosniff"
    for bad in ("0", "-5", "10081", "an hour"):
        with pytest.raises(SettingsError, match="WEBCHAT_HISTORY_MINUTES"):
            Settings.from_environ({"WEBCHAT_HISTORY_MINUTES": bad})


def test_the_health_route_answers_ok(static_dir):
    ((status, _, body),) = get(channel_serving(static_dir), "/webhooks/socketio/")
    assert status == 200 and json.loads(body) == {"status": "ok"}


# -- socket.io -----------------------------------------------------------------------------------------
Packet = Tuple[str, Any]  # ("connect", data) | ("connect_error", data) | ("event", [name, *args])


class SocketIoClient:
    """Socket.IO 5 over Engine.IO 4 long-polling, through the app's ASGI interface (namespace "/"),
    from a page on `origin` (None: no Origin header, as a non-browser client) served by HOST."""

    def __init__(self, client: AsgiClient, path: str = "/socket.io/", origin: Optional[str] = f"http://{HOST}") -> None:
        self.client, self.path, self.eio_sid = client, path, ""
        self.headers = {"Host": HOST, **({"Origin": origin} if origin else {})}

    def _url(self) -> str:
        return f"{self.path}?EIO=4&transport=polling" + (f"&sid={self.eio_sid}" if self.eio_sid else "")

    async def _post(self, text: str) -> None:
        status, _, body = await self.client.request(
            "POST", self._url(), text.encode(), {"Content-Type": "text/plain;charset=UTF-8", **self.headers}
        )
        assert (status, body) == (200, b"OK"), (status, body)

    async def open(self) -> Response:
        """The Engine.IO handshake: (status, headers, body)."""
        return await self.client.request("GET", self._url(), headers=self.headers)

    async def connect(self, auth: Optional[Dict[str, Any]] = None) -> Packet:
        """Opens the Engine.IO session and connects to the namespace: ("connect", {"sid"}) or ("connect_error", …)."""
        status, _, body = await self.open()
        assert status == 200 and body.startswith(b"0"), body
        self.eio_sid = json.loads(body[1:])["sid"]
        await self._post("40" + (json.dumps(auth) if auth is not None else ""))
        (packet,) = await self.receive()
        return packet

    async def emit(self, event: str, *args: Any) -> None:
        await self._post("42" + json.dumps([event, *args]))

    async def receive(self, timeout: float = 5.0) -> List[Packet]:
        """The packets waiting for this client (long-polls until there is at least one)."""
        status, _, body = await self.client.request("GET", self._url(), headers=self.headers, timeout=timeout)
        assert status == 200, body
        packets: List[Packet] = []
        for raw in body.decode().split("\x1e"):
            if not raw.startswith("4"):
                continue  # Engine.IO pings and no-ops
            kind, data = raw[1], raw[2:]
            name = {"0": "connect", "2": "event", "4": "connect_error"}[kind]
            packets.append((name, json.loads(data) if data else None))
        return packets

    async def session(self, session_id: Any = None) -> str:
        """session_request → the id of session_confirm."""
        await self.emit("session_request", {"session_id": session_id})
        ((_, (event, confirmed)),) = await self.receive()
        assert event == "session_confirm"
        return confirmed

    async def sync(self) -> None:
        """Waits until the events sent before have been handled: the server handles each event in a task
        of its own, in order, and answers a session request only after the earlier ones. Nothing else
        may be waiting for this client. (With session persistence the socket is in a new conversation after.)"""
        await self.emit("session_request", {"session_id": "sync"})
        assert [args[0] for _, args in await self.receive()] == ["session_confirm"]


def socket_channel(settings: Settings = NO_SETTINGS, **credentials: Any) -> WebChatInput:
    channel = WebChatInput.from_credentials(credentials, settings)
    assert isinstance(channel, WebChatInput)
    return channel


def token(claims: Dict[str, Any], key: str = JWT_KEY, **headers: Any) -> str:
    return jwt.encode(claims, key, algorithm="HS256", headers=headers or None)


def in_ten_minutes() -> int:
    return int(time.time()) + 600


# -- origins -----------------------------------------------------------------------------------------
def test_by_default_only_the_servers_own_origin_may_connect_and_gets_cors_headers():
    async def scenario(client: AsgiClient, received: Received) -> List[Response]:
        return [
            await SocketIoClient(client, origin=origin).open()
            for origin in (f"http://{HOST}", "https://evil.example", f"http://{HOST}.evil.example", "null", None)
        ]

    (own, evil, lookalike, null, none), _ = run_chat(socket_channel(), scenario)
    assert own[0] == 200 and own[1]["access-control-allow-origin"] == f"http://{HOST}"
    for refused in (evil, lookalike, null):
        assert refused[0] == 400 and b"not an accepted origin" in refused[2]
        assert "access-control-allow-origin" not in refused[1]
    # Not a browser (no Origin): no cross-site request to protect against.
    assert none[0] == 200 and "access-control-allow-origin" not in none[1]


def test_with_allowed_origins_only_those_may_connect_and_get_cors_headers():
    settings = Settings.from_environ({"WEBCHAT_ALLOWED_ORIGINS": "https://portal.corp.example,http://localhost:8080"})

    async def scenario(client: AsgiClient, received: Received) -> Dict[str, Response]:
        origins = ["https://portal.corp.example", "http://localhost:8080", f"http://{HOST}", "https://evil.example"]
        opened: Dict[str, Response] = {o: await SocketIoClient(client, origin=o).open() for o in origins}
        # The CORS preflight of a polling POST (the widget's page is on another origin).
        headers = {"Host": HOST, "Access-Control-Request-Method": "POST"}
        for origin in ("https://portal.corp.example", "https://evil.example"):
            preflight = await client.request(
                "OPTIONS", "/socket.io/?EIO=4&transport=polling", headers={**headers, "Origin": origin}
            )
            opened[f"OPTIONS {origin}"] = preflight
        return opened

    opened, _ = run_chat(socket_channel(settings), scenario)
    for origin in ("https://portal.corp.example", "http://localhost:8080"):
        assert opened[origin][0] == 200 and opened[origin][1]["access-control-allow-origin"] == origin
    for origin in (f"http://{HOST}", "https://evil.example"):  # the list replaces the default
        assert opened[origin][0] == 400 and "access-control-allow-origin" not in opened[origin][1]
    assert (
        opened["OPTIONS https://portal.corp.example"][1]["access-control-allow-origin"] == "https://portal.corp.example"
    )
    assert opened["OPTIONS https://evil.example"][0] == 400
    assert "access-control-allow-origin" not in opened["OPTIONS https://evil.example"][1]


def test_malformed_socketio_requests_are_answered_4xx_never_500(caplog):
    async def scenario(client: AsgiClient, received: Received) -> Tuple[List[int], List[int]]:
        headers = {"Host": HOST, "Origin": f"http://{HOST}"}
        statuses = []
        for method, target, body in [
            ("GET", "/socket.io/?EIO=abc&transport=polling", b""),
            ("GET", "/socket.io/?EIO=4&transport=carrier-pigeon", b""),
            ("GET", "/socket.io/?EIO=4&transport=polling&sid=not-a-session", b""),
            ("POST", "/socket.io/?EIO=4&transport=polling", b"42[]"),
            ("POST", "/socket.io/?EIO=4&transport=polling&sid=nope", b"40"),
            ("GET", "/socket.io/?EIO=4&transport=polling&j=%ff", b""),
        ]:
            statuses.append((await client.request(method, target, body, headers))[0])
        # A packet that does not decode is dropped; the connection goes on.
        sio = SocketIoClient(client)
        await sio.connect()
        for packet in ["42not json", "42[1,2", '42{"a":1}', "42", "42[]", "42[null]"]:
            await sio._post(packet)
        await sio.emit("user_uttered", {"message": "still here"})
        await sio.sync()
        return statuses, [m.text for m in received]

    (statuses, texts), received = run_chat(socket_channel(), scenario)
    assert all(400 <= status < 500 for status in statuses), statuses
    assert texts == ["still here"]
    # engine.io logs each kind of bad request once at ERROR, without a traceback; no handler failed.
    assert not [r.getMessage() for r in caplog.records if r.exc_info or "handler error" in r.getMessage()]


# -- sessions ----------------------------------------------------------------------------------------
def test_with_session_persistence_the_server_issues_a_signed_session_that_gets_the_replies():
    async def scenario(client: AsgiClient, received: Received) -> Tuple[str, List[Packet]]:
        sio = SocketIoClient(client)
        assert (await sio.connect())[0] == "connect"
        session_id = await sio.session(None)
        await sio.emit("user_uttered", {"message": "hello", "session_id": session_id})
        return session_id, await sio.receive()

    (session_id, packets), received = run_chat(socket_channel(session_persistence=True), scenario, reply="Hi there")
    assert SIGNED.fullmatch(session_id)
    # The reply is sent to the conversation's room: it arrives only because session_request joined it.
    assert packets == [("event", ["bot_uttered", {"text": "Hi there"}])]
    (message,) = received
    # The sender (stored in the tracker, on tickets) is the conversation id, not the signed session id.
    assert (message.text, message.sender_id, message.input_channel) == ("hello", session_id.split(".")[0], "socketio")
    assert message.metadata == {}


def test_a_kept_session_id_continues_its_conversation_after_a_reload_and_on_another_process():
    """The widget keeps the id session_confirm gave and sends it back: the same conversation, also on a
    replica with the same WEBCHAT_SESSION_SECRET (the standard Rasa socket.io widget protocol)."""
    settings = Settings.from_environ({"WEBCHAT_SESSION_SECRET": SESSION_SECRET})

    async def scenario(client: AsgiClient, received: Received) -> Tuple[str, str, List[Packet]]:
        first = SocketIoClient(client)
        await first.connect()
        kept = SessionSigner(SESSION_SECRET).issue()[1]  # as issued by another process
        confirmed = await first.session(kept)
        reloaded = SocketIoClient(client)
        await reloaded.connect()
        again = await reloaded.session(confirmed)
        await reloaded.emit("user_uttered", {"message": "still me", "session_id": again})
        return kept, again, await reloaded.receive() + await first.receive()

    (kept, again, packets), received = run_chat(socket_channel(settings, session_persistence=True), scenario, "ok")
    assert again == kept
    assert packets == [("event", ["bot_uttered", {"text": "ok"}])] * 2  # both tabs of the conversation
    assert [m.sender_id for m in received] == [kept.split(".")[0]]


def test_a_session_id_the_server_did_not_issue_gets_a_new_conversation_not_that_room():
    async def scenario(client: AsgiClient, received: Received) -> Tuple[str, List[str], List[Packet], List[Packet]]:
        victim = SocketIoClient(client)
        await victim.connect()
        victims_session = await victim.session(None)
        conversation = victims_session.split(".")[0]  # on tickets, in the tracker store, in logs
        attacker = SocketIoClient(client)
        await attacker.connect()
        _, other_signed = SessionSigner("another-secret-0123456789abcdef0123456789").issue()
        attempts = [conversation, f"{conversation}.{'A' * 43}", f"{conversation}.{other_signed.split('.')[1]}",
                    "s-123", "employee-42", victims_session.upper(), 42, {"id": 1}, None, ""]  # fmt: skip
        confirmed = [await attacker.session(attempt) for attempt in attempts]
        await victim.emit("user_uttered", {"message": "my tickets", "session_id": victims_session})
        # The attacker also names the victim's session in its messages: they go to its own conversation.
        await attacker.emit("user_uttered", {"message": "and mine", "session_id": victims_session})
        victim_got = await victim.receive()
        attacker_got = await attacker.receive()
        return conversation, confirmed, victim_got, attacker_got

    (conversation, confirmed, victim_got, attacker_got), received = run_chat(
        socket_channel(session_persistence=True), scenario, reply="private"
    )
    assert all(SIGNED.fullmatch(c) for c in confirmed) and len(set(confirmed)) == len(confirmed)
    assert not any(c.startswith(conversation) for c in confirmed)
    assert victim_got == attacker_got == [("event", ["bot_uttered", {"text": "private"}])]  # one reply each
    assert [m.sender_id for m in received] == [conversation, confirmed[-1].split(".")[0]]


def test_a_new_session_request_leaves_the_previous_conversation():
    """The widget's "clear this conversation" asks for a new session: the old conversation's replies stop."""

    async def scenario(client: AsgiClient, received: Received) -> Tuple[List[Packet], str, str]:
        tab = SocketIoClient(client)
        await tab.connect()
        old = await tab.session(None)
        other_tab = SocketIoClient(client)
        await other_tab.connect()
        await other_tab.session(old)
        new = await tab.session(None)  # cleared
        await other_tab.emit("user_uttered", {"message": "old conversation"})
        reply = await other_tab.receive()
        await tab.sync()  # nothing but the confirmation waits for the cleared tab
        return reply, old, new

    (reply, old, new), received = run_chat(socket_channel(session_persistence=True), scenario, reply="r")
    assert reply == [("event", ["bot_uttered", {"text": "r"}])] and old != new
    assert [m.sender_id for m in received] == [old.split(".")[0]]


def test_a_message_before_its_session_uses_a_signed_session_id_or_is_dropped():
    async def scenario(client: AsgiClient, received: Received) -> List[Packet]:
        sio = SocketIoClient(client)
        await sio.connect()
        for data in ({"message": "hello"}, {"message": "hello", "session_id": "  "}, {"message": "x", "session_id": 7},
                     {"message": "forged", "session_id": "0" * 32 + "." + "A" * 43}):  # fmt: skip
            await sio.emit("user_uttered", data)
        await sio.sync()
        signed = await sio.session(None)
        late = SocketIoClient(client)
        await late.connect()
        await late.emit("user_uttered", {"message": "kept id, no session_request", "session_id": signed})
        return await late.receive()

    packets, received = run_chat(socket_channel(session_persistence=True), scenario, reply="ok")
    assert [m.text for m in received] == ["kept id, no session_request"]
    assert packets == [("event", ["bot_uttered", {"text": "ok"}])]


def test_without_session_persistence_the_socket_is_the_sender_and_gets_the_replies():
    async def scenario(client: AsgiClient, received: Received) -> Tuple[str, str, List[Packet]]:
        sio = SocketIoClient(client)
        _, data = await sio.connect()
        confirmed = await sio.session("someone-else")
        await sio.emit("user_uttered", {"message": "hello", "session_id": "someone-else"})
        return data["sid"], confirmed, await sio.receive()

    (sid, confirmed, packets), received = run_chat(socket_channel(), scenario, reply="Hi")
    assert SIGNED.fullmatch(confirmed)
    assert [message.sender_id for message in received] == [sid]
    assert packets == [("event", ["bot_uttered", {"text": "Hi"}])]


def test_message_text_and_metadata_are_cleaned_and_a_client_cannot_claim_an_identity():
    spoof = {"employee_id": "boss", "email": "boss@corp.example"}
    messages: List[Any] = [
        {"message": "a" * (MAX_MESSAGE_CHARS + 50), "metadata": {"page": "/help", IDENTITY_KEY: spoof}},
        # a page claiming a group chat would hide the form's questions from its own user
        {"message": "group?", "metadata": {"page": "/g", "chat_type": "group", "dm_available": True}},
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
        (len("group?"), {"page": "/g"}),
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


# -- identity tokens ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "auth",
    [
        None,
        {},
        {"token": ""},
        {"token": 42},
        {"token": "not-a-jwt"},
        {"token": "x" * 10_000},
        {"token": token({"employee_id": "e42", "exp": in_ten_minutes()}, key="another-key-0123456789abcdef0123")},
        {"token": token({"employee_id": "e42", "exp": int(time.time()) - 60})},
        {"token": token({"employee_id": "e42"})},
        {"token": token({"employee_id": "e42", "exp": "tomorrow"})},
        {"token": token({"email": "ann@corp.example", "exp": in_ten_minutes()})},
        {"token": token({"employee_id": "4/2", "exp": in_ten_minutes()})},
        {"token": jwt.encode({"employee_id": "e42", "exp": in_ten_minutes()}, "", algorithm="none")},
    ],
    ids=["no-auth", "no-token", "empty", "not-a-string", "garbage", "huge", "wrong-key", "expired", "no-exp",
         "exp-not-a-date", "no-employee", "bad-employee-id", "alg-none"],
)  # fmt: skip
def test_with_a_jwt_key_a_connection_needs_a_valid_token_with_exp_naming_an_employee(auth):
    async def scenario(client: AsgiClient, received: Received) -> Packet:
        return await SocketIoClient(client).connect(auth)

    packet, _ = run_chat(socket_channel(jwt_key=JWT_KEY), scenario)
    assert packet[0] == "connect_error"


@pytest.mark.parametrize(
    "claims, accepted",
    [
        ({"iss": "https://portal.corp.example", "aud": "alimail-chat"}, True),
        ({"iss": "https://portal.corp.example", "aud": ["other", "alimail-chat"]}, True),
        ({"aud": "alimail-chat"}, False),
        ({"iss": "https://portal.corp.example"}, False),
        ({"iss": "https://evil.example", "aud": "alimail-chat"}, False),
        ({"iss": "https://portal.corp.example", "aud": "another-app"}, False),
    ],
)
def test_issuer_and_audience_are_checked_when_set(claims, accepted):
    settings = Settings.from_environ(
        {"WEBCHAT_JWT_ISSUER": "https://portal.corp.example", "WEBCHAT_JWT_AUDIENCE": "alimail-chat"}
    )
    signed = token({"sub": "e42", "exp": in_ten_minutes(), **claims})

    async def scenario(client: AsgiClient, received: Received) -> Packet:
        return await SocketIoClient(client).connect({"token": signed})

    packet, _ = run_chat(socket_channel(settings, jwt_key=JWT_KEY), scenario)
    assert packet[0] == ("connect" if accepted else "connect_error")


def test_with_a_token_the_employee_is_the_sender_and_the_verified_identity_is_in_the_metadata():
    valid = token({"employee_id": "e42", "email": "ann@corp.example", "exp": in_ten_minutes()})

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
    valid = token({"sub": "e7", "exp": in_ten_minutes()})

    async def scenario(client: AsgiClient, received: Received) -> Tuple[List[Packet], List[Packet]]:
        first, second = SocketIoClient(client), SocketIoClient(client)
        for tab in (first, second):  # the widget asks for its session when it connects
            await tab.connect({"token": valid})
            assert await tab.session() == "employee-e7"
        await first.emit("user_uttered", {"message": "from the first tab"})
        return await first.receive(), await second.receive()

    (first, second), received = run_chat(socket_channel(jwt_key=JWT_KEY), scenario, reply="shared")
    assert first == second == [("event", ["bot_uttered", {"text": "shared"}])]
    assert [m.sender_id for m in received] == ["employee-e7"]
