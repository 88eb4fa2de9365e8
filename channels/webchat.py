"""The intranet web chat: Rasa's socket.io channel, fixed and closed, plus the widget served from the same server.

Named in credentials.yml as ``channels.webchat.WebChatInput:`` with the usual socket.io keys
(``user_message_evt``, ``bot_message_evt``, ``session_persistence``, ``socketio_path``,
``namespace``, ``jwt_key``, ``jwt_method``, ``metadata_key``) and optionally ``static_dir``
(default ``build/webchat`` in the checkout, made by ``make webchat``).

What differs from ``rasa.core.channels.socketio.SocketIOInput`` (same events, so any Rasa
socket.io widget still works):

- **Origins.** A connection whose ``Origin`` is not allowed is refused (400), over WebSocket and
  long-polling, and only allowed origins get CORS headers: ``WEBCHAT_ALLOWED_ORIGINS``
  (comma-separated), else the server's own origin (python-engineio's check; Rasa passes ``[]``,
  which switches it off). A client that sends no ``Origin`` (not a browser) is not affected.
- **Session ids are issued by the server.** ``session_confirm`` returns ``<conversation>.<mac>``:
  a random conversation id and its HMAC-SHA256 under ``WEBCHAT_SESSION_SECRET`` (random per
  process when unset; required in the production profile). A ``session_request`` carrying a
  correctly signed id continues that conversation; any other id (someone else's conversation id,
  a forged or an old one) gets a new conversation. The conversation id is the Rasa sender and the
  socket.io room the replies go to; rooms are entered by the server only, and a socket is in one
  conversation at a time. Messages go to the socket's conversation whatever their ``session_id``.
- ``session_request`` *awaits* ``sio.enter_room`` (a coroutine in python-socketio 5; Rasa 3.6
  calls it without ``await``, so with ``session_persistence`` the room was never joined and the
  replies after a reload were lost: rasa issue 13027).
- ``GET /webhooks/socketio/webchat/`` is a demo page, ``…/webchat/config.js`` the widget's
  server settings (``historyMinutes``: ``WEBCHAT_HISTORY_MINUTES``) and ``…/webchat/<file>`` the
  widget's files; only plain file names that exist in the static folder are served.
- Identity (optional): with ``jwt_key`` in the credentials or ``WEBCHAT_JWT_KEY``, a connection
  needs ``auth.token``, a JWT with ``exp`` (and ``iss`` / ``aud`` when ``WEBCHAT_JWT_ISSUER`` /
  ``WEBCHAT_JWT_AUDIENCE`` are set) whose ``employee_id`` (or ``sub``) claim names the employee
  (letters, digits and ``._@-``, at most 128; any other id is refused, never rewritten) and whose
  optional ``email`` claim is their address. The conversation id is then ``employee-<id>``
  whatever the client asks for, and every message carries ``metadata.verified_identity =
  {"employee_id": …, "email": …}``; a client can never set that key itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple, Union

import jwt
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from core.chat import CHAT_TYPE, DM_AVAILABLE
from core.settings import Settings, SettingsError, get_settings

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATIC_DIR = ROOT / "build" / "webchat"
IDENTITY_KEY = "verified_identity"
JWT_ENV = "WEBCHAT_JWT_KEY"
MAX_MESSAGE_CHARS = 10_000
DEFAULT_HISTORY_MINUTES = 60

# A plain file name: no separators, no leading dot, nothing that could climb out of the folder.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")
EMPLOYEE_ID = re.compile(r"[A-Za-z0-9._@-]{1,128}")
# A conversation id the server made, and the id the browser keeps: that id, a dot, its MAC.
CONVERSATION_ID = re.compile(r"[0-9a-f]{32}")
SIGNED_SESSION_ID = re.compile(r"([0-9a-f]{32})\.([A-Za-z0-9_-]{43})")
MAC_CONTEXT = b"alimail-webchat-session\x00"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
ASSET_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    "Cross-Origin-Resource-Policy": "cross-origin",
}
# The demo page loads only its own files and talks only to its own server.
DEMO_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def identity_from_claims(claims: Optional[Dict[str, Any]]) -> Optional[Dict[str, str]]:
    """``{"employee_id", "email"}`` from a decoded token, or None when it names no employee.

    An id with a character outside letters, digits and ``._@-`` (or longer than 128) is refused,
    not cleaned: cleaning made ``4/2`` and ``42`` the same employee."""
    if not isinstance(claims, dict):
        return None
    employee = claims.get("employee_id") or claims.get("sub")
    if not isinstance(employee, (str, int)) or isinstance(employee, bool):
        return None
    employee = str(employee)
    if not EMPLOYEE_ID.fullmatch(employee):
        return None
    identity = {"employee_id": employee}
    email = claims.get("email")
    if isinstance(email, str) and "@" in email and len(email) <= 254:
        identity["email"] = email.strip()
    return identity


def session_id_for(identity: Dict[str, str]) -> str:
    """The conversation of an employee (the same on every device)."""
    return f"employee-{identity['employee_id']}"


class SessionSigner:
    """Issues and checks the session ids the browser keeps: ``<conversation id>.<HMAC-SHA256>``."""

    def __init__(self, secret: Union[str, bytes]) -> None:
        self._key = secret.encode("utf-8") if isinstance(secret, str) else secret

    def _mac(self, conversation: str) -> str:
        digest = hmac.new(self._key, MAC_CONTEXT + conversation.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def issue(self) -> Tuple[str, str]:
        """A new conversation: (conversation id, the signed session id for the browser)."""
        conversation = secrets.token_hex(16)
        return conversation, f"{conversation}.{self._mac(conversation)}"

    def verify(self, session_id: Any) -> Optional[str]:
        """The conversation id of a session id this server (or one with the same secret) issued, else None."""
        if not isinstance(session_id, str):
            return None
        match = SIGNED_SESSION_ID.fullmatch(session_id)
        if not match:
            return None
        conversation, mac = match.groups()
        return conversation if hmac.compare_digest(mac, self._mac(conversation)) else None


def startup_problem(settings: Settings) -> Optional[str]:
    """Why the web chat must not start with these settings (for the start-up checks), or None."""
    if settings.alimail_profile == "production" and not settings.webchat_session_secret:
        return (
            "WEBCHAT_SESSION_SECRET is required in the production profile (all Rasa processes must sign the "
            "web chat's session ids with the same key): set it to 32 or more random characters, "
            "e.g. `openssl rand -hex 32`"
        )
    return None


def session_signer(settings: Settings) -> SessionSigner:
    """The signer of WEBCHAT_SESSION_SECRET; a random one (sessions end with the process) when unset,
    except in the production profile, where the replicas must agree: SettingsError."""
    problem = startup_problem(settings)
    if problem:
        raise SettingsError(problem)
    if settings.webchat_session_secret:
        return SessionSigner(settings.webchat_session_secret)
    logger.info("WEBCHAT_SESSION_SECRET is not set: web chat sessions end when this process stops.")
    return SessionSigner(secrets.token_bytes(32))


def config_script(settings: Settings) -> str:
    """``config.js``: the server's settings for the widget."""
    config = {"historyMinutes": settings.webchat_history_minutes}
    return f"window.AlimailWebchatServerConfig = {json.dumps(config)};\n"


def drop_malformed_packets(sio: AsyncServer) -> None:
    """A socket.io packet that does not decode (bad JSON, an event without a name) is dropped with one line
    at INFO; python-socketio would log a traceback at ERROR for each (a way to flood the logs)."""
    handle = sio.eio.handlers["message"]

    async def message(eio_sid: str, data: Any) -> Any:
        try:
            return await handle(eio_sid, data)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
            logger.info(f"Web chat: a malformed socket.io packet dropped ({type(error).__name__}).")
            return None

    sio.eio.on("message", message)


class WebChatInput(SocketIOInput):
    """Socket.io channel with allowed origins, server-issued sessions, optional JWT identity, and the widget."""

    static_dir: Path = DEFAULT_STATIC_DIR
    settings: Settings = Settings.from_environ({})
    signer: Optional[SessionSigner] = None

    @classmethod
    def name(cls) -> Text:
        # Same name (and so the same /webhooks/socketio/ prefix) as Rasa's channel.
        return "socketio"

    @classmethod
    def from_credentials(
        cls, credentials: Optional[Dict[Text, Any]], settings: Optional[Settings] = None
    ) -> InputChannel:
        """The channel from credentials.yml; the JWT key from there or WEBCHAT_JWT_KEY, the rest from the settings."""
        credentials = credentials or {}
        settings = settings or get_settings()
        channel = cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            credentials.get("session_persistence", False),
            credentials.get("socketio_path", "/socket.io"),
            credentials.get("jwt_key") or settings.webchat_jwt_key,
            credentials.get("jwt_method", "HS256"),
            credentials.get("metadata_key", "metadata"),
        )
        channel.static_dir = Path(credentials.get("static_dir") or DEFAULT_STATIC_DIR)
        channel.settings = settings
        channel.signer = session_signer(settings)
        return channel

    def allowed_origins(self) -> Optional[List[str]]:
        """python-engineio's ``cors_allowed_origins``: the configured origins, or None (the server's own)."""
        origins = self.settings.webchat_allowed_origins
        return list(origins) if origins else None

    # --- static files ---------------------------------------------------------------------
    def _file_response(self, name: str) -> HTTPResponse:
        if name == "config.js":
            return response.text(
                config_script(self.settings), content_type=CONTENT_TYPES[".js"], headers=dict(ASSET_HEADERS)
            )
        if not SAFE_NAME.match(name) or ".." in name:
            return response.text("not found", status=404)
        folder = self.static_dir.resolve()
        path = (folder / name).resolve()
        if path.parent != folder or not path.is_file():
            if name == "index.html" or not folder.is_dir():
                return response.text("web chat not built: run `make webchat`", status=404)
            return response.text("not found", status=404)
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        headers = dict(ASSET_HEADERS)
        if path.suffix == ".html":
            headers.update(
                {"Content-Security-Policy": DEMO_PAGE_CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
            )
        return response.raw(path.read_bytes(), content_type=content_type, headers=headers)

    # --- identity -------------------------------------------------------------------------
    def _decode(self, token: str) -> Optional[Dict[str, Any]]:
        """The claims of a valid token (signature, ``exp``, and ``iss`` / ``aud`` when configured), else None."""
        issuer, audience = self.settings.webchat_jwt_issuer, self.settings.webchat_jwt_audience
        required = ["exp"] + (["iss"] if issuer else []) + (["aud"] if audience else [])
        try:
            claims = jwt.decode(
                token,
                self.jwt_key,
                algorithms=[self.jwt_algorithm],
                options={"require": required},
                issuer=issuer,
                audience=audience,
            )
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            logger.info(f"Web chat token refused: {type(error).__name__}.")
            return None
        return claims if isinstance(claims, dict) else None

    def _identity(self, auth: Any) -> Optional[Dict[str, str]]:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token or len(token) > 8192:
            return None
        return identity_from_claims(self._decode(token))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's socket.io blueprint with the origin check on and the handlers fixed, plus the widget's routes."""
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.allowed_origins())
        drop_malformed_packets(sio)
        webhook = SocketBlueprint(sio, self.socketio_path, "webchat_socketio_webhook", __name__)
        self.sio = sio
        namespace = self.namespace
        if self.signer is None:
            self.signer = session_signer(self.settings)
        signer = self.signer

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webchat/", methods=["GET"])  # Sanic also routes /webchat here
        async def demo_page(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):  # the page's relative links need the slash
                return response.redirect(request.path + "/")
            return self._file_response("index.html")

        @webhook.route("/webchat/<name:str>", methods=["GET"])
        async def asset(_: Request, name: str) -> HTTPResponse:
            return self._file_response(name or "index.html")

        @sio.on("connect", namespace=namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            if not self.jwt_key:
                logger.debug(f"User {sid} connected to the web chat.")
                return True
            identity = self._identity(auth)
            if identity is None:
                has_token = isinstance(auth, dict) and bool(auth.get("token"))
                logger.info(f"Web chat connection {sid} refused: {'invalid token' if has_token else 'no token'}.")
                return False
            await sio.save_session(sid, {"identity": identity}, namespace=namespace)
            logger.debug(f"Employee {identity['employee_id']} connected to the web chat ({sid}).")
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: Text, *args: Any) -> None:
            logger.debug(f"User {sid} disconnected from the web chat.")

        async def bind(sid: Text, session: Dict[str, Any], conversation: str) -> None:
            """The socket's one conversation: its room (where the replies go) entered, any earlier one left."""
            previous = session.get("conversation")
            session["conversation"] = conversation
            await sio.save_session(sid, session, namespace=namespace)
            if previous and previous != conversation:
                await sio.leave_room(sid, previous, namespace=namespace)
            await sio.enter_room(sid, conversation, namespace=namespace)  # the fix: awaited

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: Text, data: Any = None) -> None:
            session = await sio.get_session(sid, namespace=namespace)
            identity = session.get("identity")
            requested = data.get("session_id") if isinstance(data, dict) else None
            if identity is not None:
                conversation = confirmed = session_id_for(identity)  # the token decides, not the client
            else:
                verified = signer.verify(requested)
                if verified is not None:
                    conversation, confirmed = verified, str(requested)
                else:
                    if requested:
                        logger.info(f"Web chat {sid} asked for a session this server did not issue: a new one.")
                    conversation, confirmed = signer.issue()
            if self.session_persistence or identity is not None:
                await bind(sid, session, conversation)
            await sio.emit("session_confirm", confirmed, room=sid, namespace=namespace)
            logger.debug(f"Web chat {sid} is in conversation {conversation}.")

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:
            if not isinstance(data, dict):
                return
            session = await sio.get_session(sid, namespace=namespace)
            identity = session.get("identity")
            if identity is not None:
                sender_id = session_id_for(identity)
                if session.get("conversation") != sender_id:
                    await bind(sid, session, sender_id)  # replies go to that room
            elif self.session_persistence:
                sender_id = str(session.get("conversation") or "")
                if not sender_id:
                    # A widget that sends its kept id with a message before asking for its session.
                    verified = signer.verify(data.get("session_id"))
                    if verified is None:
                        logger.warning("Web chat message without a session ignored: send session_request first.")
                        return
                    sender_id = verified
                    await bind(sid, session, sender_id)
            else:
                sender_id = sid

            metadata = data.get(self.metadata_key) or {}
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = {}
            if not isinstance(metadata, dict):
                metadata = {}
            # Only the server decides these: the identity from a verified token; the kind of chat
            # (core/chat.py) is a one-to-one chat here, whatever the page sends.
            for key in (IDENTITY_KEY, CHAT_TYPE, DM_AVAILABLE):
                metadata.pop(key, None)
            if identity is not None:
                metadata[IDENTITY_KEY] = dict(identity)

            text = data.get("message", "")
            if not isinstance(text, str):
                text = ""
            message = UserMessage(
                text[:MAX_MESSAGE_CHARS],
                SocketIOOutput(sio, self.bot_message_evt),
                sender_id,
                input_channel=self.name(),
                metadata=metadata,
            )
            await on_new_message(message)

        return webhook
