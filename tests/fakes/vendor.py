"""The common part of the helpdesk fakes (tests/fakes/jira.py, tests/fakes/servicenow.py).

A fake is an HTTP server on 127.0.0.1 that keeps a helpdesk's state in memory and checks every
request against the vendor's published documentation (each fake's docstring cites the pages). A
request that breaks a documented rule is answered with the vendor's own error shape *and* recorded
in `violations`, so a test can both see the backend's reaction and assert that the backend never
sent anything the documentation does not allow (`fake.violations == []`).

What a test can do with a fake besides talking HTTP to it:

- `stop()` / `start()` / `restart()`: the port stays the same, the helpdesk's data survives (as a
  real helpdesk's database survives a restart of its web server). While stopped, connections are
  refused.
- `lose_responses(n)`: the next `n` requests are carried out (a create creates) but their answers
  never come: the connection is held until the client gives up (its timeout) and is then closed.
  That is "a timeout whose request did arrive", the case exactly-once delivery must survive.
- `requests`: every request received (method, path, query, JSON body, account), in order.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

HELD_RESPONSE_SECONDS = 30.0  # a lost answer's connection is closed after this, or at stop()


@dataclass
class Incoming:
    """One request as the fake saw it."""

    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Dict[str, str]  # lower-case names
    raw: bytes
    json: Any = None
    account: Optional[str] = None  # who authenticated (filled in by the fake)

    def param(self, name: str) -> Optional[str]:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: Dict[str, str] = field(default_factory=dict)


class Refused(Exception):
    """A request the documentation does not allow: answered with `status` and the vendor's error shape."""

    def __init__(self, status: int, message: str, detail: str = "", violation: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.violation = violation  # False: a legitimate refusal (e.g. a test's deliberate wrong password)


def basic_credentials(header: Optional[str]) -> Optional[Tuple[str, str]]:
    """(user, secret) of an `Authorization: Basic …` header (RFC 7617), None when it is not one."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[len("Basic ") :].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, colon, secret = decoded.partition(":")
    return (user, secret) if colon else None


def staff_session(user: str, password: str) -> Any:
    """A `requests` session of a member of staff (basic auth, JSON answers), for the fakes' Staff helpers,
    which work the tickets through the same documented API as the assistant."""
    import requests

    session = requests.Session()
    session.auth = (user, password)
    session.headers["Accept"] = "application/json"
    return session


class VendorFake:
    """Base class: subclasses implement `route(incoming) -> Answer` and `error_body(status, message, detail)`."""

    name = "vendor"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: List[Incoming] = []
        self.violations: List[str] = []
        self._lose = 0
        self._lose_match: Tuple[Optional[str], str] = (None, "")
        self._held = threading.Event()
        self._connections: set = set()  # open client sockets: a stop closes kept-alive ones too
        self.port = 0
        self.server: Optional[ThreadingHTTPServer] = None
        self.thread: Optional[threading.Thread] = None
        self.start()

    # -- life cycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.server is not None

    def start(self) -> None:
        if self.server is not None:
            return
        self._held = threading.Event()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        server.daemon_threads = True
        server.block_on_close = False
        self.port = server.server_address[1]
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        server, self.server = self.server, None
        self._held.set()  # close held connections
        if server is not None:
            server.shutdown()
            server.server_close()
        with self.lock:
            connections, self._connections = self._connections, set()
        for connection in connections:  # a stopped helpdesk keeps no kept-alive connection open
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restart(self) -> None:
        self.stop()
        self.start()

    close = stop

    def lose_responses(self, count: int = 1, method: Optional[str] = None, path_prefix: str = "") -> None:
        """Carry out the next `count` requests (with this method and path prefix, if given) but never
        answer them (see the module doc)."""
        with self.lock:
            self._lose = count
            self._lose_match = (method, path_prefix)

    # -- what tests read -------------------------------------------------------------------------
    def calls(self, method: str, path_prefix: str = "") -> List[Incoming]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    # -- subclass interface --------------------------------------------------------------------
    def route(self, incoming: Incoming) -> Answer:  # pragma: no cover - abstract
        raise NotImplementedError

    def error_body(self, status: int, message: str, detail: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- shared checks -------------------------------------------------------------------------
    @staticmethod
    def require_json_body(incoming: Incoming) -> Dict[str, Any]:
        """A JSON object body sent as `Content-Type: application/json` (415 / 400 otherwise)."""
        content_type = incoming.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            raise Refused(415, "Unsupported Media Type", f"Content-Type {content_type!r}: application/json required")
        if not isinstance(incoming.json, dict):
            raise Refused(400, "Invalid JSON", "the body is not a JSON object")
        return incoming.json

    @staticmethod
    def require_accept_json(incoming: Incoming) -> None:
        accept = incoming.headers.get("accept")
        if accept is not None and not any(
            part.split(";", 1)[0].strip() in ("application/json", "application/*", "*/*") for part in accept.split(",")
        ):
            raise Refused(406, "Not Acceptable", f"Accept {accept!r}: the API answers application/json")

    # -- HTTP plumbing -------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        incoming = Incoming(
            method=handler.command,
            path=urllib.parse.unquote(parts.path),
            query=urllib.parse.parse_qs(parts.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in handler.headers.items()},
            raw=raw,
            json=parsed,
        )
        with self.lock:
            self.requests.append(incoming)
            try:
                answer = self.route(incoming)
            except Refused as refused:
                if refused.violation:
                    self.violations.append(
                        f"{incoming.method} {incoming.path}: {refused.status} {refused.detail or refused.message}"
                    )
                answer = Answer(refused.status, self.error_body(refused.status, refused.message, refused.detail))
            method, prefix = self._lose_match
            lose = self._lose > 0 and method in (None, incoming.method) and incoming.path.startswith(prefix)
            if lose:
                self._lose -= 1
            held = self._held
        if lose:  # done, but the answer is lost: hold the connection until the client gave up
            held.wait(HELD_RESPONSE_SECONDS)
            handler.close_connection = True
            return
        data = b"" if answer.body is None else json.dumps(answer.body).encode("utf-8")
        handler.send_response(answer.status)
        if answer.body is not None:
            handler.send_header("Content-Type", "application/json;charset=UTF-8")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _handler_class(self) -> type:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def setup(self) -> None:
                super().setup()
                with fake.lock:
                    fake._connections.add(self.connection)

            def finish(self) -> None:
                with fake.lock:
                    fake._connections.discard(self.connection)
                super().finish()

            def _any(self) -> None:
                if fake.server is None:  # stopped while this connection was open
                    self.close_connection = True
                    return
                fake._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any  # http.server's naming

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
