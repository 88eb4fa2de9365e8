"""The Request Tracker 5 backend (tickets/backends/rt.py) and the desk (tickets/outbox.py) against a real RT 5
(tests/rt_server.py: one server per session, its own copy of the packaged SQLite database).

The assistant works as its own RT user with only the rights the README lists, through an auth token;
staff act through RT's own REST2 API as root. Ticket databases are SQLite files per test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests

from core.settings import Settings
from tests.rt_server import ROOT_PASSWORD, ROOT_USER, RTServer, free_port
from tests.ticket_conversation import converse
from tickets.backends import make_backend
from tickets.backends.base import BackendRejected, RemoteRef, TicketRequest, UserComment
from tickets.delivery_worker import DeliveryWorker
from tickets.outbox import DELIVERED, PENDING, RECEIVED, REJECTED, UNREACHABLE, TicketDesk
from tickets.store import NewTicket, TicketNotFound, TicketStore

ROOT = Path(__file__).resolve().parents[4]
SECRET_PASSWORD = "Hunter2!xyz"
SECRET_CODE = "482913"


def rt_environ(rt: RTServer, **extra: str) -> Dict[str, str]:
    return {
        "TICKET_BACKEND": "rt",
        "RT_URL": rt.url,
        "RT_TOKEN": rt.token or "",
        "TICKET_BACKEND_TIMEOUT": "10",
        "TICKET_OUTBOX_BACKOFF": "0.01",
        "TICKET_OUTBOX_MAX_BACKOFF": "0.01",
        **extra,
    }


def make_desk(rt: RTServer, tmp_path: Path, **extra: str) -> TicketDesk:
    settings = Settings.from_environ(rt_environ(rt, **extra))
    store = TicketStore(f"sqlite:///{tmp_path / 'tickets.sqlite3'}")
    return TicketDesk(store, make_backend(settings, store), settings)


def new_ticket(
    email: str, sender: str = "alice", channel: str = "rest", key: Optional[str] = None, **changes: Any
) -> NewTicket:
    values: Dict[str, Any] = dict(
        idempotency_key=key or f"{channel}:{sender}:{uuid.uuid4().hex}",
        priority="High",
        queue="support",
        contact_email=email,
        description=f"I can't log in; my password is {SECRET_PASSWORD}",
        channel=channel,
        sender_id=sender,
        problem="forgot_password",
        error_code="E1001",
        steps_tried=["Open the login page", "Click Forgot password (failed)"],
        is_postmaster=False,
        language="en",
        transcript=[
            {"who": "user", "text": f"my password is {SECRET_PASSWORD} and it fails"},
            {"who": "bot", "text": "Let's reset it."},
            {"who": "user", "text": f"the code was {SECRET_CODE}"},
        ],
    )
    values.update(changes)
    return NewTicket(**values)


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@corp.example"


def remote(desk: TicketDesk, ticket_id: str) -> RemoteRef:
    ref = desk.remote_ref(int(ticket_id[4:]))
    assert ref is not None, f"{ticket_id} not delivered"
    return ref


def create_content(rt: RTServer, remote_id: str) -> str:
    """The text RT stored from the ticket's creation."""
    _, history = rt.staff("GET", f"ticket/{remote_id}/history", params={"fields": "Type", "per_page": 100})
    create = next(item for item in history["items"] if item["Type"] == "Create")
    _, attachments = rt.staff("GET", f"transaction/{create['id']}/attachments", params={"fields": "Content"})
    return "\n".join(str(item.get("Content", "")) for item in attachments["items"])


def transactions(rt: RTServer, remote_id: str, kind: str) -> List[Dict[str, Any]]:
    _, history = rt.staff("GET", f"ticket/{remote_id}/history", params={"fields": "Type,Data", "per_page": 100})
    return [item for item in history["items"] if item["Type"] == kind]


# -- create, status, comment ---------------------------------------------------------------------
def test_a_ticket_reaches_rt_with_the_form_and_the_masked_transcript(rt: RTServer, tmp_path: Path) -> None:
    desk = make_desk(rt, tmp_path)
    email = unique_email()
    ticket, created = desk.open(new_ticket(email))
    assert created and ticket.id == "ALM-000001"
    assert desk.view_for_sender(ticket.id, "alice", "rest").status == RECEIVED
    assert [d.ticket_id for d in desk.waiting()] == [ticket.id]

    assert desk.deliver_due()["delivered"] == 1
    assert desk.waiting() == []
    ref = remote(desk, ticket.id)
    status, fields = rt.staff("GET", f"ticket/{ref.remote_id}")
    assert status == 200
    assert fields["Queue"]["id"] == "1"  # General, RT_QUEUE's default
    assert [user["id"] for user in fields["Requestor"]] == [email]
    assert fields["Subject"].startswith("Forgotten Password [ALM-000001-")
    assert fields["Priority"] == "80"  # High → RT_PRIORITIES
    content = create_content(rt, ref.remote_id)
    for expected in ("Assistant reference: ALM-000001", f"Contact: {email}", "Error code: E1001", "Steps tried:"):
        assert expected in content
    assert "[user] my password is [hidden]" in content and "the code was [hidden]" in content
    assert SECRET_PASSWORD not in content and SECRET_CODE not in content


def test_status_shows_rt_status_and_the_latest_staff_reply_to_the_owner_only(rt: RTServer, tmp_path: Path) -> None:
    desk = make_desk(rt, tmp_path)
    ticket, _ = desk.open(new_ticket(unique_email()))
    desk.deliver_due()
    ref = remote(desk, ticket.id)
    view = desk.view_for_sender(ticket.id, "alice", "rest")
    assert (view.status, view.latest_reply) == ("open", None)  # RT "new"

    reply = "We reset your password; check your secure phone."
    assert (
        rt.staff("POST", f"ticket/{ref.remote_id}/correspond", json={"Content": reply, "ContentType": "text/plain"})[0]
        == 201
    )
    view = desk.view_for_sender(ticket.id, "alice", "rest")
    assert (view.status, view.latest_reply) == ("in_progress", reply)  # a reply opens the ticket in RT

    assert rt.staff("PUT", f"ticket/{ref.remote_id}", json={"Status": "resolved"})[0] == 200
    (mine,) = desk.views_for_sender("alice", "rest")
    assert (mine.ticket.id, mine.status, mine.latest_reply) == (ticket.id, "resolved", reply)

    # Ownership is ours: another sender, or the same sender on another channel, sees nothing.
    for sender, channel in (("mallory", "rest"), ("alice", "slack")):
        with pytest.raises(TicketNotFound):
            desk.view_for_sender(ticket.id, sender, channel)
        assert desk.views_for_sender(sender, channel) == []


def test_a_user_comment_reaches_rt_after_its_ticket_masked(rt: RTServer, tmp_path: Path) -> None:
    desk = make_desk(rt, tmp_path)
    ticket, _ = desk.open(new_ticket(unique_email()))
    desk.add_comment(ticket.id, "alice", "rest", f"Also my new code {SECRET_CODE} fails", key="c1")
    desk.add_comment(ticket.id, "alice", "rest", f"Also my new code {SECRET_CODE} fails", key="c1")  # repeated
    with pytest.raises(TicketNotFound):
        desk.add_comment(ticket.id, "mallory", "rest", "not mine", key="c2")
    assert [d.kind for d in desk.waiting()] == ["create", "comment"]

    assert desk.deliver_due()["delivered"] == 2  # the ticket first, then its comment
    ref = remote(desk, ticket.id)
    comments = transactions(rt, ref.remote_id, "Comment")
    assert len(comments) == 1
    assert "Comment from the requester" in comments[0]["Data"]
    _, attachments = rt.staff("GET", f"transaction/{comments[0]['id']}/attachments", params={"fields": "Content"})
    text = " ".join(str(item.get("Content", "")) for item in attachments["items"])
    assert "Also my new code [hidden] fails" in text and SECRET_CODE not in text
    # A comment is not a reply from support.
    assert desk.view_for_sender(ticket.id, "alice", "rest").latest_reply is None


# -- exactly once -------------------------------------------------------------------------------
class SlowProxy:
    """Forwards to RT; while `hold_creates` is set, a POST /REST/2.0/ticket reaches RT but its answer
    comes only after `hold` seconds (longer than the backend's timeout)."""

    def __init__(self, target: str, hold: float) -> None:
        self.target = target.rstrip("/")
        self.hold = hold
        self.hold_creates = False
        self.creates = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = requests.request(
                    self.command,
                    proxy.target + self.path,
                    data=body,
                    headers=headers,
                    timeout=30,
                    allow_redirects=False,
                )
                if self.command == "POST" and self.path.rstrip("/") == "/REST/2.0/ticket":
                    proxy.creates += 1
                    if proxy.hold_creates:
                        time.sleep(proxy.hold)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                try:
                    self.wfile.write(answer.content)
                except OSError:
                    pass  # the client gave up (its timeout)

            do_GET = do_POST = do_PUT = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_proxy(rt: RTServer) -> Iterator[SlowProxy]:
    proxy = SlowProxy(rt.url, hold=2.5)
    yield proxy
    proxy.close()


def test_a_create_whose_answer_timed_out_is_found_not_created_again(
    rt: RTServer, slow_proxy: SlowProxy, tmp_path: Path
) -> None:
    desk = make_desk(rt, tmp_path, RT_URL=slow_proxy.url, TICKET_BACKEND_TIMEOUT="1.5")
    email = unique_email()
    ticket, _ = desk.open(new_ticket(email))
    slow_proxy.hold_creates = True
    assert desk.deliver_due() == {"delivered": 0, "retry": 1, "rejected": 0, "skipped": 0}
    (waiting,) = desk.waiting()
    assert (waiting.state, waiting.attempts) == (PENDING, 1) and "timed out" in (waiting.last_error or "")
    time.sleep(1.2)  # the held answer is sent and RT has stored the ticket
    assert len(rt.search(f"Requestor.EmailAddress = '{email}'")) == 1  # the request did arrive

    slow_proxy.hold_creates = False
    assert desk.deliver_due()["delivered"] == 1
    assert slow_proxy.creates == 1  # the retry asked RT first and found it
    found = rt.search(f"Requestor.EmailAddress = '{email}'")
    assert [item["id"] for item in found] == [remote(desk, ticket.id).remote_id]
    (row,) = desk.deliveries(ticket_number=ticket.number)
    assert (row.state, row.attempts) == (DELIVERED, 2)


def test_the_backend_finds_by_key_and_checks_comments(rt: RTServer, tmp_path: Path) -> None:
    backend = make_desk(rt, tmp_path).backend
    key = f"ALM-999999-{uuid.uuid4().hex[:12]}"
    assert backend.find_by_idempotency_key(key) is None
    request = TicketRequest(key, "ALM-999999", "Phishing", "body", "Low", "postmaster", unique_email())
    ref = backend.create(request)
    assert backend.find_by_idempotency_key(key) == ref
    assert backend.find_by_idempotency_key(key[:-1] + "x") is None
    assert backend.find_by_idempotency_key("x' OR id > '0") is None  # not a key: never reaches TicketSQL
    assert rt.staff("GET", f"ticket/{ref.remote_id}")[1]["Priority"] == "20"
    assert not backend.has_comment(ref, f"{key}-c")
    backend.add_comment(ref, UserComment(f"{key}-c", "more", "x@corp.example"))
    assert backend.has_comment(ref, f"{key}-c")
    health = backend.health()
    assert health.ok and "General" in health.detail


# -- RT down ------------------------------------------------------------------------------------
def cli(desk_env: Dict[str, str], db: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **desk_env}
    return subprocess.run(
        [sys.executable, "-m", "tickets.cli", "--db-url", f"sqlite:///{db}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_rt_stopped_mid_conversation(rt: RTServer, tmp_path: Path) -> None:
    desk = make_desk(rt, tmp_path)
    email = unique_email()
    first, _ = desk.open(new_ticket(email))
    desk.deliver_due()
    rt.stop()
    try:
        # The delivered ticket: its status can't be read now, and the answer says so.
        assert desk.view_for_sender(first.id, "alice", "rest").status == UNREACHABLE
        # A new ticket and a comment: stored at once, the user gets the reference.
        second, created = desk.open(new_ticket(email))
        assert created and desk.view_for_sender(second.id, "alice", "rest").status == RECEIVED
        desk.add_comment(first.id, "alice", "rest", "any news?", key="k1")
        counts = desk.deliver_due()
        assert counts["retry"] == 2 and counts["delivered"] == 0
        listed = cli(rt_environ(rt), tmp_path / "tickets.sqlite3", "outbox")
        assert listed.returncode == 0, listed.stderr
        assert second.id in listed.stdout and "pending" in listed.stdout and "cannot connect" in listed.stdout
        listed = cli(rt_environ(rt), tmp_path / "tickets.sqlite3", "outbox", "--json")
        assert {(row["ticket"], row["kind"]) for row in json.loads(listed.stdout)} == {
            (second.id, "create"),
            (first.id, "comment"),
        }
        assert cli(rt_environ(rt), tmp_path / "tickets.sqlite3", "backend-check").returncode == 5
    finally:
        rt.start()
    time.sleep(0.05)
    assert desk.deliver_due()["delivered"] == 2
    assert len(rt.search(f"Requestor.EmailAddress = '{email}'")) == 2  # each ticket once
    assert len(transactions(rt, remote(desk, first.id).remote_id, "Comment")) == 1
    assert desk.view_for_sender(second.id, "alice", "rest").status == "open"
    assert "Nothing waits" in cli(rt_environ(rt), tmp_path / "tickets.sqlite3", "outbox").stdout


def test_ten_tickets_opened_while_rt_is_down_arrive_exactly_once(rt: RTServer, tmp_path: Path) -> None:
    desk = make_desk(rt, tmp_path, TICKET_OUTBOX_INTERVAL="0.2")
    email = unique_email()
    rt.stop()
    try:
        opened = [desk.open(new_ticket(email, sender=f"user-{n}"))[0] for n in range(10)]
        assert len({t.id for t in opened}) == 10
        for _ in range(2):  # the worker keeps trying while RT is down
            assert desk.deliver_due()["retry"] == 10
            time.sleep(0.02)
        assert len(desk.waiting()) == 10
    finally:
        rt.start()
    worker = DeliveryWorker(desk).start()  # the real worker, as in the action server
    try:
        deadline = time.monotonic() + 60
        while desk.waiting() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.stop()
    assert desk.waiting() == []
    found = rt.search(f"Requestor.EmailAddress = '{email}'")
    assert len(found) == 10
    keys = sorted(item["Subject"].rsplit("[", 1)[1].rstrip("]") for item in found)
    assert keys == sorted(d.idempotency_key for d in desk.deliveries(states=(DELIVERED,)))
    assert len(set(keys)) == 10


# -- configuration ------------------------------------------------------------------------------
def test_bad_credentials_are_rejected_then_retried_by_an_operator(rt: RTServer, tmp_path: Path) -> None:
    bad = make_desk(rt, tmp_path, RT_TOKEN="1-1-00000000000000000000000000000000")
    email = unique_email()
    ticket, _ = bad.open(new_ticket(email))
    assert bad.deliver_due()["rejected"] == 1
    (row,) = bad.waiting()
    assert row.state == REJECTED and "HTTP 401" in (row.last_error or "")
    assert bad.deliver_due()["rejected"] == 0  # not retried by itself
    assert bad.view_for_sender(ticket.id, "alice", "rest").status == RECEIVED
    with pytest.raises(BackendRejected):
        bad.backend.create(TicketRequest("ALM-000001-abc", "ALM-000001", "x", "y", "Low", "support", email))

    good = make_desk(rt, tmp_path)  # the operator fixed RT_TOKEN
    assert good.retry(ticket.id) == 1
    assert good.deliver_due()["delivered"] == 1
    assert len(rt.search(f"Requestor.EmailAddress = '{email}'")) == 1


def test_basic_auth_and_the_backend_check(rt: RTServer, tmp_path: Path) -> None:
    env = rt_environ(rt, RT_TOKEN="", RT_USER=ROOT_USER, RT_PASSWORD=ROOT_PASSWORD)
    done = cli(env, tmp_path / "t.sqlite3", "backend-check")
    assert done.returncode == 0 and done.stdout.startswith("rt: ok"), done.stdout + done.stderr
    done = cli({**env, "RT_PASSWORD": "wrong"}, tmp_path / "t.sqlite3", "backend-check")
    assert done.returncode == 5 and "HTTP 401" in done.stdout
    done = cli({**env, "RT_QUEUE": "No such queue"}, tmp_path / "t.sqlite3", "backend-check")
    assert done.returncode == 5 and "not found or not visible" in done.stdout


# -- the conversation does not change with the backend --------------------------------------------


def test_the_conversation_is_the_same_with_rt(rt: RTServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builtin = converse(monkeypatch, {}, tmp_path / "builtin.sqlite3")
    with_rt = converse(monkeypatch, rt_environ(rt, TICKET_OUTBOX_WORKER="false"), tmp_path / "rt.sqlite3")
    assert with_rt["confirmation"] == builtin["confirmation"]  # same words, same reference ALM-000001
    assert "ALM-000001" in with_rt["confirmation"]
    assert "received, not yet in the helpdesk" in with_rt["status"]
    assert "open, waiting for support" in builtin["status"]

    desk = with_rt["desk"]
    assert desk.backend.name == "rt" and desk.deliver_due()["delivered"] == 1

    def undated(text: str) -> str:
        return re.sub(r"last update [^\n]+", "last update …", text)

    assert undated(with_rt["status_again"]()) == undated(builtin["status_again"]())  # delivered: the same answer
    ref = desk.remote_ref(1)
    rt.staff(
        "POST",
        f"ticket/{ref.remote_id}/correspond",
        json={"Content": "Done, log in again.", "ContentType": "text/plain"},
    )
    answer = with_rt["status_again"]()
    assert "in progress" in answer and "Latest note from support: Done, log in again." in answer


def test_the_action_server_worker_delivers_without_being_asked(
    rt: RTServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    convo = converse(monkeypatch, rt_environ(rt, TICKET_OUTBOX_INTERVAL="0.2"), tmp_path / "rt.sqlite3")
    desk = convo["desk"]
    deadline = time.monotonic() + 30
    while desk.remote_ref(1) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert desk.remote_ref(1) is not None  # the worker thread sent it (the action only stored and queued it)
    assert "open, waiting for support" in convo["status_again"]()
    from actions.ticket_actions import ticket_store
    from core.settings import get_settings

    get_settings.cache_clear()
    ticket_store.cache_clear()
