"""A fake HTTP server for tests: records every request and answers through a replaceable responder.

Import it as ``from tests.fake_http import RecordingServer`` (tests/conftest.py puts the project root
on sys.path; ``tests`` is a namespace package).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple

Record = Dict[str, Any]
Responder = Callable[[Record], Tuple[Any, ...]]  # (status, body) or (status, body, headers)
FORM = "application/x-www-form-urlencoded"


def answer_ok(record: Record) -> Tuple[int, Any]:
    """The default responder: 200 with ``{"ok": true}``."""
    return 200, {"ok": True}


def _decode(raw: bytes, content_type: str) -> Tuple[Any, Any]:
    """(JSON body or None, decoded body): a form is decoded to {name: first value}, anything else as JSON."""
    if content_type.startswith(FORM):
        return None, {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return parsed, parsed


class RecordingServer:
    """An HTTP server on 127.0.0.1 (a free port, served by a daemon thread) that records every request.

    Each request becomes a record in `requests`: ``method``, ``path`` (without the query), ``query``
    (parsed), ``raw_query``, ``content_type``, ``authorization``, ``raw`` (the body's bytes), ``json``
    (the parsed JSON body, else None), ``body`` (the JSON body, or a form's {name: first value}) and
    ``headers`` (lower-case name → value). It is answered by ``responder(record) -> (status, JSON-able
    body)`` or ``(status, body, {header: value})`` (e.g. a redirect's Location), except that a status queued in
    `statuses` replaces the responder's status (one per request); while `hang` is set a request gets
    no answer until `close()`. `received` is notified after each request is recorded.
    """

    def __init__(self, responder: Responder = answer_ok) -> None:
        self.responder = responder
        self.requests: List[Record] = []
        self.statuses: List[int] = []
        self.hang = False
        self.release = threading.Event()
        self.received = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                content_type = self.headers.get("Content-Type")
                parsed, body = _decode(raw, content_type or "")
                record = {
                    "method": self.command,
                    "path": parts.path,
                    "query": urllib.parse.parse_qs(parts.query),
                    "raw_query": parts.query,
                    "content_type": content_type,
                    "authorization": self.headers.get("Authorization"),
                    "headers": {name.lower(): value for name, value in self.headers.items()},
                    "raw": raw,
                    "json": parsed,
                    "body": body,
                }
                with owner.received:
                    owner.requests.append(record)
                    queued = owner.statuses.pop(0) if owner.statuses else None
                    owner.received.notify_all()
                if owner.hang:
                    owner.release.wait(10)
                    return
                status, answer, *extra = owner.responder(record)
                data = json.dumps(answer).encode()
                self.send_response(status if queued is None else queued)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # http.server's naming

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.port: int = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def snapshot(self) -> List[Record]:
        """The requests recorded so far, in order."""
        with self.received:
            return list(self.requests)

    def wait_for(
        self, predicate: Callable[[List[Record]], Any], timeout: float = 10.0, poll: float = 0.05
    ) -> Optional[List[Record]]:
        """The first snapshot of the requests for which `predicate` is true, checked on each new request
        and every `poll` seconds; None if there was none within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.received:
            while True:
                records = list(self.requests)
                if predicate(records):
                    return records
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.received.wait(min(poll, remaining))

    def close(self) -> None:
        """Releases hanging requests and stops the server."""
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
