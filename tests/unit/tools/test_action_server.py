"""tools/action_server.py: with ACTION_SERVER_TOKEN every call but /health needs the bearer token; without
it the server starts only on loopback, and never in the production profile. (A real process:
tests/integration/tools/test_serve.py; against Rasa: tests/security/.)"""

from __future__ import annotations

import asyncio
import json
from typing import Dict, List, Optional, Tuple

import pytest

from core.settings import Settings
from tests.asgi_client import AsgiClient, Response
from tools import action_server
from tools.action_server import create_app, is_loopback, startup_problem

TOKEN = "s3cret-action-t0ken"
CALL = {"next_action": "no_such_action", "sender_id": "employee-42", "tracker": {}, "domain": {}, "version": "3.6.2"}


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.0.0.5", False),
        ("actions", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_startup_problem():
    assert startup_problem(Settings(), "127.0.0.1") is None
    assert "ACTION_SERVER_TOKEN" in (startup_problem(Settings(), "0.0.0.0") or "")
    production = Settings(alimail_profile="production")
    assert "production profile requires it" in (startup_problem(production, "127.0.0.1") or "")
    for settings in (
        Settings(action_server_token=TOKEN),
        Settings(alimail_profile="production", action_server_token=TOKEN),
    ):
        assert startup_problem(settings, "0.0.0.0") is None


def calls(token: Optional[str], requests: List[Tuple[str, str, Dict[str, str]]]) -> List[Response]:
    async def scenario() -> List[Response]:
        app = create_app("actions", token)
        async with AsgiClient(app) as client:
            body = json.dumps(CALL).encode()
            return [
                await client.request(method, path, body if method == "POST" else b"", h) for method, path, h in requests
            ]

    return asyncio.run(scenario())


def test_with_a_token_every_call_but_health_needs_it():
    bearer = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    responses = calls(
        TOKEN,
        [
            ("GET", "/health", {}),
            ("POST", "/webhook", {"Content-Type": "application/json"}),
            ("POST", "/webhook", {"Authorization": "Bearer wrong", "Content-Type": "application/json"}),
            ("POST", "/webhook", {"Authorization": TOKEN}),
            ("GET", "/actions", {}),
            ("POST", "/webhook", bearer),
            ("GET", "/actions", bearer),
        ],
    )
    assert [r[0] for r in responses] == [200, 401, 401, 401, 401, 404, 200]  # 404: the made-up action, past the check
    assert json.loads(responses[1][2]) == {"error": "missing or invalid bearer token"}
    assert responses[1][1]["www-authenticate"] == "Bearer"
    assert {"name": "action_ticket_status"} in json.loads(responses[-1][2])


def test_without_a_token_calls_are_not_checked():
    responses = calls(None, [("POST", "/webhook", {"Content-Type": "application/json"})])
    assert responses[0][0] == 404


def test_main_refuses_before_serving(monkeypatch):
    served = []
    monkeypatch.setattr(action_server, "create_app", lambda *a, **k: served.append(a))
    with pytest.raises(SystemExit, match="Not starting the action server: ACTION_SERVER_TOKEN is unset"):
        action_server.main(["--actions", "actions"], Settings(alimail_profile="production"))
    with pytest.raises(SystemExit, match="would accept any caller on 0.0.0.0"):
        action_server.main(["--actions", "actions", "--host", "0.0.0.0"], Settings())
    assert served == []


# -- GET /ready (issue 17): the ticket store, in fixed words, without a token ---------------------------------
def ready(token: Optional[str], tickets_db_url: str) -> Response:
    async def scenario() -> Response:
        app = create_app("actions", token)
        action_server.add_ready_route(app, Settings(tickets_db_url=tickets_db_url, readiness_timeout=3))
        async with AsgiClient(app) as client:
            return await client.request("GET", "/ready", b"", {})

    return asyncio.run(scenario())


def test_ready_reports_a_working_ticket_store_without_a_token(tmp_path):
    status, headers, body = ready(TOKEN, f"sqlite:///{tmp_path / 'tickets.sqlite3'}")
    assert status == 200
    assert json.loads(body) == {"status": "ready", "checks": {"actions": "ok", "ticket_store": "ok"}}
    assert headers["cache-control"] == "no-store"


def test_ready_says_degraded_but_not_where_or_why_when_the_ticket_store_is_down():
    from tests.local_stores import closed_port

    port = closed_port()
    url = f"postgresql://staff:pa55word@127.0.0.1:{port}/tickets"
    status, _, body = ready(TOKEN, url)
    assert status == 200  # the actions still answer (with the ticket system's own apology)
    assert json.loads(body) == {"status": "degraded", "checks": {"actions": "ok", "ticket_store": "unavailable"}}
    for detail in (str(port), "127.0.0.1", "staff", "pa55word", "refused", "postgresql"):
        assert detail.encode() not in body


def test_a_wrong_method_or_path_is_a_4xx_not_rasa_sdks_500():
    """rasa_sdk answers any exception with 500 and echoes the request body; a POST to /health or /ready
    is a client's mistake."""
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    responses = calls(TOKEN, [("POST", "/health", {}), ("PUT", "/health", {}), ("GET", "/no-such-route", bearer)])
    assert [r[0] for r in responses] == [405, 405, 404]
    assert all(b"request_body" not in r[2] for r in responses)
