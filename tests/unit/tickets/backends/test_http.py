"""tickets/backends/http.py, attacked by a helpdesk (or something posing as one) on 127.0.0.1: an answer
too large to buffer, a redirect carrying the credentials elsewhere, a body that is not JSON, a hang."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator, List, Tuple

import pytest

from tickets.backends.base import BackendRejected, BackendUnavailable
from tickets.backends.http import MAX_RESPONSE_BYTES, JsonClient

Answer = Tuple[int, List[Tuple[str, str]], bytes]


@pytest.fixture()
def helpdesk() -> Iterator[Callable[[Answer], str]]:
    """Serves one fixed answer per test; yields a function that sets it and returns the base URL."""
    answer: List[Answer] = [(200, [], b"{}")]
    seen: List[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            status, headers, body = answer[0]
            if status == 0:  # hang past the client's timeout
                threading.Event().wait(2)
                return
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def serve(new: Answer) -> str:
        answer[0] = new
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    server.shutdown()
    server.server_close()


def test_an_answer_larger_than_the_bound_is_refused_not_buffered(helpdesk) -> None:
    client = JsonClient(helpdesk((200, [("Content-Type", "application/json")], b" " * (MAX_RESPONSE_BYTES + 10))), 5)
    with pytest.raises(BackendUnavailable, match="larger than"):
        client.request("GET", "ticket/1")


def test_a_redirect_is_not_followed(helpdesk) -> None:
    client = JsonClient(helpdesk((302, [("Location", "http://attacker.invalid/steal")], b"")), 5, auth=("u", "p"))
    with pytest.raises(BackendUnavailable, match="redirect not followed"):
        client.request("GET", "ticket/1")


def test_a_body_that_is_not_json_is_transient_and_a_refusal_is_permanent(helpdesk) -> None:
    with pytest.raises(BackendUnavailable, match="not JSON"):
        JsonClient(helpdesk((200, [], b"<html>login</html>")), 5).request("GET", "ticket/1")
    with pytest.raises(BackendRejected, match="HTTP 403"):
        JsonClient(helpdesk((403, [], b"<html>no</html>")), 5).request("GET", "ticket/1")
    assert JsonClient(helpdesk((200, [], b'{"id": "7"}')), 5).request("GET", "ticket/7") == (200, {"id": "7"})


def test_a_hanging_helpdesk_is_cut_off_at_the_timeout(helpdesk) -> None:
    with pytest.raises(BackendUnavailable, match="timed out"):
        JsonClient(helpdesk((0, [], b"")), 0.3).request("GET", "ticket/1")
