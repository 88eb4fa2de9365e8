"""The helpdesk HTTP API (`python -m tickets.api`), run as a subprocess on a free local port.

The module's server has two named tokens (TICKETS_API_TOKENS): `helpdesk` and `anna`."""

from __future__ import annotations

import os
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest
import requests

from tests.local_stores import closed_port
from tickets.store import MAX_COMMENT, NewTicket, Ticket, TicketStore
from tools import processes

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "test-token-" + uuid.uuid4().hex
ANNA_TOKEN = "anna-token-" + uuid.uuid4().hex
TOKENS = f"helpdesk:{TOKEN},anna:{ANNA_TOKEN}"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ANNA = {"Authorization": f"Bearer {ANNA_TOKEN}"}


class Server:
    """A running `tickets.api` process."""

    def __init__(self, db_url: str, tokens: Dict[str, str], log: Path) -> None:
        """`tokens`: the token variables to set (TICKETS_API_TOKENS, TICKETS_API_TOKEN)."""
        self.port = processes.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {name: value for name, value in os.environ.items() if not name.startswith("TICKETS_")}
        env.update(tokens)
        self.log = log
        self.process = processes.start(
            [sys.executable, "-m", "tickets.api", "--host", "127.0.0.1", "--port", str(self.port), "--db-url", db_url],
            ROOT,
            env,
            log,
        )

    def wait_ready(self, timeout: float = 20.0) -> None:
        processes.wait_until(f"{self.base}/health", self.process, self.log, timeout)

    def stop(self) -> None:
        processes.stop(self.process, grace=10)


@contextmanager
def start(db_url: str, tokens: Dict[str, str], log: Path) -> Iterator[Server]:
    server = Server(db_url, tokens, log)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('api') / 'tickets.sqlite3'}"


@pytest.fixture(scope="module")
def store(db_url: str) -> TicketStore:
    return TicketStore(db_url)


@pytest.fixture(scope="module")
def server(db_url: str, store: TicketStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    store.ensure_schema()
    with start(db_url, {"TICKETS_API_TOKENS": TOKENS}, tmp_path_factory.mktemp("log") / "api.log") as running:
        yield running


@pytest.fixture(scope="module")
def disabled_server(db_url: str, store: TicketStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    store.ensure_schema()
    with start(db_url, {}, tmp_path_factory.mktemp("log") / "api-disabled.log") as running:
        yield running


def make_ticket(store: TicketStore, queue: str = "postmaster", priority: str = "high") -> Ticket:
    ticket, _ = store.create(
        NewTicket(
            idempotency_key=uuid.uuid4().hex,
            priority=priority,
            queue=queue,
            contact_email="pm@example.org",
            description="Bounces from example.com",
            channel="rest",
            sender_id="user-1",
            problem="delivery",
            transcript=[{"who": "user", "text": "my mail bounces"}],
        )
    )
    return ticket


def patch(
    server: Server, ticket_id: str, body: Dict[str, str], headers: Optional[Dict[str, str]] = None
) -> requests.Response:
    return requests.patch(f"{server.base}/tickets/{ticket_id}", json=body, headers=headers or AUTH, timeout=10)


def test_health_needs_no_token_and_shows_no_data(server):
    response = requests.get(f"{server.base}/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_needs_no_token_and_reports_the_ticket_store_in_fixed_words(server):
    response = requests.get(f"{server.base}/ready", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"ticket_store": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"


def test_ready_says_degraded_when_the_ticket_database_is_unreachable_and_shows_no_detail(tmp_path):
    """The API still answers (200, so a load balancer keeps it); compose and Helm read `status`."""
    port = closed_port()
    url = f"postgresql://postgres:hunter2@127.0.0.1:{port}/tickets"
    with start(url, {"TICKETS_API_TOKENS": TOKENS}, tmp_path / "api-ready.log") as down:
        response = requests.get(f"{down.base}/ready", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "checks": {"ticket_store": "unavailable"}}
    for detail in (str(port), "127.0.0.1", "postgres", "hunter2", "tickets"):
        assert detail not in response.text.replace("ticket_store", "")


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}]
)
def test_tickets_need_the_bearer_token(server, store, headers):
    ticket = make_ticket(store)
    for response in (
        requests.get(f"{server.base}/tickets", headers=headers, timeout=5),
        requests.get(f"{server.base}/tickets/{ticket.id}", headers=headers, timeout=5),
        requests.patch(f"{server.base}/tickets/{ticket.id}", json={"status": "closed"}, headers=headers, timeout=5),
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "error" in response.json()
    assert store.get(ticket.id).status == "open"


def test_list_and_filters(server, store):
    postmaster = make_ticket(store, queue="postmaster")
    support = make_ticket(store, queue="support", priority="low")
    store.set_status(support.id, "in_progress", author="test")

    response = requests.get(f"{server.base}/tickets", headers=AUTH, timeout=5)
    assert response.status_code == 200
    items = response.json()
    listed = {item["id"] for item in items}
    assert {postmaster.id, support.id} <= listed
    assert all("transcript" not in item for item in items)

    def ids(**params: str) -> set:
        response = requests.get(f"{server.base}/tickets", params=params, headers=AUTH, timeout=5)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()}

    assert postmaster.id in ids(queue="postmaster") and support.id not in ids(queue="postmaster")
    assert support.id in ids(queue="support", status="in_progress")
    assert postmaster.id not in ids(queue="support", status="in_progress")
    assert support.id not in ids(status="open")
    assert postmaster.id in ids(queue="", status="")  # empty filters mean no filter


@pytest.mark.parametrize("params", [{"queue": "sales"}, {"status": "done"}])
def test_list_rejects_unknown_filter_values(server, params):
    response = requests.get(f"{server.base}/tickets", params=params, headers=AUTH, timeout=5)
    assert response.status_code == 400
    assert "error" in response.json()


def test_get_returns_the_full_ticket(server, store):
    ticket = make_ticket(store)
    response = requests.get(f"{server.base}/tickets/{ticket.id}", headers=AUTH, timeout=5)
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == ticket.id and data["queue"] == "postmaster"
    assert data["transcript"] == [{"who": "user", "text": "my mail bounces"}]
    assert data["events"][0]["kind"] == "created"
    assert response.headers.get("Cache-Control") == "no-store"


def test_patch_status_assignee_and_comment(server, store):
    ticket = make_ticket(store)
    response = patch(server, ticket.id, {"status": "in_progress"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "in_progress"

    response = patch(server, ticket.id, {"assignee": "alice", "author": "helpdesk"})
    assert response.status_code == 200, response.text
    assert response.json()["assignee"] == "alice"

    response = patch(server, ticket.id, {"comment": "Customer sent headers"}, ANNA)
    assert response.status_code == 200, response.text

    events = requests.get(f"{server.base}/tickets/{ticket.id}", headers=AUTH, timeout=5).json()["events"]
    assert [(e["kind"], e["author"]) for e in events] == [
        ("created", "assistant"),
        ("status", "helpdesk"),
        ("assign", "helpdesk"),
        ("comment", "anna"),
    ]
    assert events[-1]["detail"] == "Customer sent headers"


def test_patch_applies_several_changes_in_order(server, store):
    ticket = make_ticket(store)
    response = patch(
        server, ticket.id, {"comment": "done", "assignee": "bob", "status": "resolved", "author": "zammad"}, ANNA
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["status"], data["assignee"]) == ("resolved", "bob")
    assert [e["kind"] for e in data["events"]] == ["created", "status", "assign", "comment"]
    assert {e["author"] for e in data["events"][1:]} == {"anna"}  # the token's name, not the body's
    assert len({e["created_at"] for e in data["events"][1:]}) == 1  # one transaction, one time


@pytest.mark.parametrize("author", ["", 42, None, "x" * 500])
def test_a_client_author_of_any_kind_is_ignored(server, store, author):
    ticket = make_ticket(store)
    response = patch(server, ticket.id, {"comment": "noted", "author": author})
    assert response.status_code == 200, response.text
    assert response.json()["events"][-1]["author"] == "helpdesk"


def test_a_refused_comment_leaves_status_and_assignee_unchanged(server, store):
    ticket = make_ticket(store)
    for comment in ("x" * (MAX_COMMENT + 1), "nul \x00 byte"):
        response = patch(server, ticket.id, {"status": "in_progress", "assignee": "bob", "comment": comment})
        assert response.status_code == 400, response.text
        assert "comment" in response.json()["error"]
    stored = store.get(ticket.id)
    assert (stored.status, stored.assignee, len(stored.events)) == ("open", None, 1)


def test_invalid_transition_is_409_and_changes_nothing(server, store):
    ticket = make_ticket(store)
    store.set_status(ticket.id, "closed", author="test")
    response = patch(server, ticket.id, {"status": "open", "comment": "reopen please"})
    assert response.status_code == 409
    assert "closed" in response.json()["error"]
    stored = store.get(ticket.id)
    assert stored.status == "closed" and stored.latest_comment() is None


@pytest.mark.parametrize("method", ["get", "patch"])
@pytest.mark.parametrize("ticket_id", ["ALM-999999", "nonsense"])
def test_unknown_ticket_is_404(server, method, ticket_id):
    response = requests.request(
        method, f"{server.base}/tickets/{ticket_id}", json={"comment": "hi"}, headers=AUTH, timeout=5
    )
    assert response.status_code == 404
    assert "error" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"{}",
        b"null",
        b'{"assignee": ["bob"]}',
        b'{"comment": {"text": "hi"}}',
        b'{"comment": "x\\u0000y"}',
        b"",
        b"[]",
        b'"text"',
        b"\xff\xfe",
        b'{"priority": "high"}',
        b'{"status": "done"}',
        b'{"status": 3}',
        b'{"comment": "   "}',
        b'{"author": "x"}',
    ],
)
def test_malformed_or_invalid_body_is_400(server, store, body):
    ticket = make_ticket(store)
    response = requests.patch(
        f"{server.base}/tickets/{ticket.id}", data=body, headers={**AUTH, "Content-Type": "application/json"}, timeout=5
    )
    assert response.status_code == 400
    assert "error" in response.json()
    assert len(store.get(ticket.id).events) == 1


def test_oversized_body_is_refused(server, store):
    ticket = make_ticket(store)
    response = requests.patch(
        f"{server.base}/tickets/{ticket.id}", json={"comment": "x" * 100_000}, headers=AUTH, timeout=5
    )
    assert response.status_code == 413
    assert "Traceback" not in response.text
    assert store.get(ticket.id).latest_comment() is None


def test_server_without_token_refuses_tickets(disabled_server, store):
    ticket = make_ticket(store)
    assert requests.get(f"{disabled_server.base}/health", timeout=5).status_code == 200
    for headers in ({}, {"Authorization": "Bearer "}, AUTH):
        for response in (
            requests.get(f"{disabled_server.base}/tickets", headers=headers, timeout=5),
            requests.get(f"{disabled_server.base}/tickets/{ticket.id}", headers=headers, timeout=5),
            requests.patch(
                f"{disabled_server.base}/tickets/{ticket.id}", json={"status": "closed"}, headers=headers, timeout=5
            ),
        ):
            assert response.status_code == 503
            assert "TICKETS_API_TOKEN" in response.json()["error"]
    assert store.get(ticket.id).status == "open"


def test_unreachable_database_is_503(tmp_path):
    nodb = "postgresql://postgres@127.0.0.1:1/test"
    with start(nodb, {"TICKETS_API_TOKENS": TOKENS}, tmp_path / "api-nodb.log") as server:
        for response in (
            requests.get(f"{server.base}/tickets", headers=AUTH, timeout=15),
            requests.get(f"{server.base}/tickets/ALM-000001", headers=AUTH, timeout=15),
            patch(server, "ALM-000001", {"comment": "hi"}),
        ):
            assert response.status_code == 503
            assert response.json() == {"error": "ticket database unavailable"}


def test_the_deprecated_single_token_is_named_staff(db_url, store, tmp_path):
    ticket = make_ticket(store)
    legacy = "legacy-token-" + uuid.uuid4().hex
    with start(db_url, {"TICKETS_API_TOKEN": legacy}, tmp_path / "api-legacy.log") as running:
        response = patch(
            running, ticket.id, {"comment": "hi", "author": "mallory"}, {"Authorization": f"Bearer {legacy}"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["events"][-1]["author"] == "staff"
        assert patch(running, ticket.id, {"comment": "hi"}).status_code == 401  # TICKETS_API_TOKENS is not set here
    assert "deprecated" in running.log.read_text()


def test_invalid_tokens_setting_stops_the_start_without_showing_it(db_url, tmp_path):
    secret = "secret-" + uuid.uuid4().hex
    log = tmp_path / "api-bad.log"
    server = Server(db_url, {"TICKETS_API_TOKENS": f"anna:{secret},anna:other-{secret}"}, log)
    try:
        assert server.process.wait(timeout=30) != 0
    finally:
        server.stop()
    output = log.read_text()
    assert "TICKETS_API_TOKENS" in output and "given twice" in output and secret not in output
