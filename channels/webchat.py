"""The intranet web chat: Rasa's socket.io channel, fixed, plus the widget served from the same server.

Named in credentials.yml as ``channels.webchat.WebChatInput:`` with the usual socket.io keys
(``user_message_evt``, ``bot_message_evt``, ``session_persistence``, ``socketio_path``,
``namespace``, ``jwt_key``, ``jwt_method``, ``metadata_key``) and optionally ``static_dir``
(default ``build/webchat`` in the checkout, made by ``make webchat``).

What differs from ``rasa.core.channels.socketio.SocketIOInput`` (same events, so any Rasa
socket.io widget still works):

- ``session_request`` *awaits* ``sio.enter_room`` (a coroutine in python-socketio 5; Rasa 3.6
  calls it without ``await``, so with ``session_persistence`` the room was never joined and the
  replies after a reload were lost — rasa issue 13027).
- ``GET /webhooks/socketio/webchat/`` is a demo page and ``/webhooks/socketio/webchat/<file>``
  the widget's files (``widget.js``, ``widget.css``, ``socket.io.min.js``); only plain file
  names that exist in the static folder are served, with their content type.
- Identity (optional): with ``jwt_key`` in the credentials or ``WEBCHAT_JWT_KEY`` in the
  environment, a connection needs ``auth.token``, a JWT whose ``employee_id`` (or ``sub``)
  claim names the employee and whose optional ``email`` claim is their address. The
  conversation id is then ``employee-<id>`` whatever the client asks for, and every message
  carries ``metadata.verified_identity = {"employee_id": …, "email": …}``; a client can never
  set that key itself. The ticket form uses that email instead of asking for one.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage, decode_bearer_token
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATIC_DIR = ROOT / "build" / "webchat"
IDENTITY_KEY = "verified_identity"
JWT_ENV = "WEBCHAT_JWT_KEY"
MAX_MESSAGE_CHARS = 10_000

# A plain file name: no separators, no leading dot, nothing that could climb out of the folder.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")
SAFE_ID = re.compile(r"[^A-Za-z0-9._@-]")
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
# The demo page loads only its own files and talks only to its own server.
DEMO_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def identity_from_claims(claims: Optional[Dict[str, Any]]) -> Optional[Dict[str, str]]:
    """``{"employee_id", "email"}`` from a decoded token, or None when it names no employee."""
    if not isinstance(claims, dict):
        return None
    employee = claims.get("employee_id") or claims.get("sub")
    if not isinstance(employee, (str, int)) or isinstance(employee, bool) or not str(employee).strip():
        return None
    employee = SAFE_ID.sub("", str(employee).strip())[:128]
    if not employee:
        return None
    identity = {"employee_id": employee}
    email = claims.get("email")
    if isinstance(email, str) and "@" in email and len(email) <= 254:
        identity["email"] = email.strip()
    return identity


def session_id_for(identity: Dict[str, str]) -> str:
    return f"employee-{identity['employee_id']}"


class WebChatInput(SocketIOInput):
    """Socket.io channel with working session persistence, optional JWT identity, and the widget."""

    @classmethod
    def name(cls) -> Text:
        # Same name (and so the same /webhooks/socketio/ prefix) as Rasa's channel.
        return "socketio"

    @classmethod
    def from_credentials(
        cls, credentials: Optional[Dict[Text, Any]], settings: Optional[Settings] = None
    ) -> InputChannel:
        """The channel from credentials.yml; the JWT key from there or WEBCHAT_JWT_KEY (settings)."""
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
        return channel

    static_dir: Path = DEFAULT_STATIC_DIR

    # --- static files ---------------------------------------------------------------------
    def _file_response(self, name: str) -> HTTPResponse:
        if not SAFE_NAME.match(name) or ".." in name:
            return response.text("not found", status=404)
        folder = self.static_dir.resolve()
        path = (folder / name).resolve()
        if path.parent != folder or not path.is_file():
            if name == "index.html" or not folder.is_dir():
                return response.text("web chat not built: run `make webchat`", status=404)
            return response.text("not found", status=404)
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if path.suffix == ".html":
            headers.update(
                {"Content-Security-Policy": DEMO_PAGE_CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
            )
        return response.raw(path.read_bytes(), content_type=content_type, headers=headers)

    # --- identity -------------------------------------------------------------------------
    def _identity(self, auth: Any) -> Optional[Dict[str, str]]:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            return None
        return identity_from_claims(decode_bearer_token(token, self.jwt_key, self.jwt_algorithm))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's socket.io blueprint with the handlers fixed, plus the widget's routes."""
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[])
        webhook = SocketBlueprint(sio, self.socketio_path, "webchat_socketio_webhook", __name__)
        self.sio = sio
        namespace = self.namespace

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

        async def identity_of(sid: Text) -> Optional[Dict[str, str]]:
            if not self.jwt_key:
                return None
            session = await sio.get_session(sid, namespace=namespace)
            return session.get("identity")

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: Text, data: Optional[Dict] = None) -> None:
            identity = await identity_of(sid)
            requested = data.get("session_id") if isinstance(data, dict) else None
            if identity is not None:
                session_id = session_id_for(identity)  # the token decides, not the client
            elif isinstance(requested, str) and requested.strip():
                session_id = requested.strip()[:128]
            else:
                session_id = uuid.uuid4().hex
            if self.session_persistence or identity is not None:
                await sio.enter_room(sid, session_id, namespace=namespace)  # the fix: awaited
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)
            logger.debug(f"Web chat {sid} joined session {session_id}.")

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            if not isinstance(data, dict):
                return
            identity = await identity_of(sid)
            if identity is not None:
                sender_id = session_id_for(identity)
                await sio.enter_room(sid, sender_id, namespace=namespace)  # replies go to that room
            elif self.session_persistence:
                requested = data.get("session_id")
                if not isinstance(requested, str) or not requested.strip():
                    logger.warning("Web chat message without a session_id ignored: send session_request first.")
                    return
                sender_id = requested.strip()[:128]
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
            metadata.pop(IDENTITY_KEY, None)  # only the server's verified token may set it
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
