"""Attacks on `GET /ready` (issue 17; SECURITY.md, "Who can reach what"), against the real Rasa server
and action server with their tokens set (the session's servers of `tokens_config`, shared with
tests/security/test_rest_and_action_server.py):

- without any token it answers, but only in fixed words: no token, host, port, path, store, error text;
- no method but GET (and HEAD) does anything, and no query, header or path trick opens the action
  server's token-protected routes through it;
- a flood of requests gets answers, never a 5xx.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.servers import ACTION_SERVER_TOKEN, REST_API_TOKEN, Servers, SharedServers, tokens_config
from tools.readiness import ACTION_SERVER_CHECKS, RASA_CHECKS

WORDS = {"ok", "unavailable", "unknown"}
STATUSES = {"ready", "degraded", "starting"}


@pytest.fixture(scope="module")
def servers(shared_servers: SharedServers) -> Servers:
    return shared_servers.get(tokens_config())


def leaks(servers: Servers, raw: str) -> Dict[str, bool]:
    """Which details of the deployment appear in a response body."""
    details = {
        "REST token": REST_API_TOKEN,
        "action token": ACTION_SERVER_TOKEN,
        "Rasa port": str(urlsplit(servers.rasa_url).port),
        "action server port": str(urlsplit(servers.action_url).port),
        "tickets database": urlsplit(servers.tickets_db_url).path or servers.tickets_db_url,
        "trackers database": servers.trackers_db_url.split("///")[-1],
    }
    found = {name: value in raw for name, value in details.items() if value}
    for pattern in (r"127\.0\.0\.1", r"sqlite", r"Traceback", r"Exception", r"/tmp/", r"webhook", r"request_body"):
        found[pattern] = re.search(pattern, raw, re.IGNORECASE) is not None
    return found


def fixed_words(body: Any, checks: tuple) -> bool:
    return (
        isinstance(body, dict)
        and set(body) == {"status", "checks"}
        and body["status"] in STATUSES
        and list(body["checks"]) == list(checks)
        and set(body["checks"].values()) <= WORDS
    )


@pytest.mark.parametrize("role", ["rasa", "actions"])
def test_ready_answers_without_a_token_in_fixed_words_only(servers, role):
    """Before issue 17 there was no /ready; a health endpoint that echoed its dependencies' errors
    would hand out hosts, ports, database paths and driver messages to anyone."""
    url, checks = (
        (f"{servers.rasa_url}/ready", RASA_CHECKS)
        if role == "rasa"
        else (f"{servers.action_url}/ready", ACTION_SERVER_CHECKS)
    )
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Forwarded-For": "10.0.0.1", "Accept": "text/html"}):
        for query in ("", "?verbose=1&debug=true", "?format=text"):
            response = requests.get(url + query, headers=headers, timeout=30)
            assert response.status_code == 200, (headers, query, response.status_code)
            assert response.headers["Content-Type"].startswith("application/json")
            assert response.headers.get("Cache-Control") == "no-store"
            body = response.json()
            assert fixed_words(body, checks), body
            assert body["status"] == "ready", body  # every part of these servers is up
            assert not any(leaks(servers, response.text).values()), leaks(servers, response.text)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_ready_does_nothing_but_answer_get(servers, method):
    for base in (servers.rasa_url, servers.action_url):
        response = requests.request(method, f"{base}/ready", json={"next_action": "action_ticket_status"}, timeout=30)
        assert response.status_code in (401, 405), (base, method, response.status_code)
        assert not any(leaks(servers, response.text).values())


@pytest.mark.parametrize(
    "path",
    [
        "/ready/",
        "/ready/../webhook",
        "/ready%2F..%2Fwebhook",
        "/webhook?path=/ready",
        "/webhook#/ready",
        "//ready/../actions",
    ],
)
def test_the_open_ready_path_opens_nothing_else_on_the_action_server(servers, path):
    """The token check lets exactly `/health` and `/ready` through: no spelling of another route does."""
    call = {"next_action": "action_ticket_status", "sender_id": "employee-42", "tracker": {}, "domain": {}}
    response = requests.post(f"{servers.action_url}{path}", json=call, timeout=30)
    assert response.status_code in (401, 404, 405), (path, response.status_code, response.text[:200])
    listing = requests.get(f"{servers.action_url}{path.replace('webhook', 'actions')}", timeout=30)
    assert listing.status_code in (401, 404), (path, listing.status_code)
    assert "action_ticket_status" not in listing.text


def test_a_flood_of_ready_requests_gets_answers_not_errors(servers):
    def get(n: int) -> int:
        base = servers.rasa_url if n % 2 else servers.action_url
        return requests.get(f"{base}/ready", timeout=60).status_code

    with ThreadPoolExecutor(max_workers=32) as executor:
        statuses = list(executor.map(get, range(400)))
    assert set(statuses) == {200}, {status: statuses.count(status) for status in set(statuses)}
    # And the bot still answers right after.
    response = requests.post(
        f"{servers.rasa_url}/webhooks/rest/webhook",
        json={"sender": "ready-flood", "message": "hi"},
        headers=servers.rest_headers(),
        timeout=60,
    )
    assert response.status_code == 200 and json.loads(response.text)
