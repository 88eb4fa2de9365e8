"""The ticket desk (tickets/outbox.py: local store, outbox, ownership) with the Jira Service Management
and ServiceNow backends, against their fakes (tests/fakes/): the same scenarios as Request Tracker's.

Each scenario runs for both helpdesks. Staff act through the fake's documented HTTP API with their
own credentials. Every test ends by checking that the backend sent nothing the vendor's
documentation does not allow (`fake.violations == []`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

from core.settings import Settings
from tests.fakes.jira import API, JiraFake, JiraStaff
from tests.fakes.servicenow import ServiceNowFake, ServiceNowStaff
from tests.ticket_conversation import converse
from tickets.backends import make_backend
from tickets.backends.base import RemoteRef
from tickets.delivery_worker import DeliveryWorker
from tickets.outbox import RECEIVED, REJECTED, UNREACHABLE, TicketDesk
from tickets.store import NewTicket, TicketStore

ROOT = Path(__file__).resolve().parents[4]
SECRET_PASSWORD = "Hunter2!xyz"
SECRET_CODE = "482913"
BACKOFF = 0.05  # TICKET_OUTBOX_BACKOFF: retries are due almost at once


class Helpdesk:
    """One vendor's fake, its settings and its staff, behind the same few verbs."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fake: Any = JiraFake() if name == "jira" else ServiceNowFake()
        self.staff: Any = JiraStaff(self.fake) if name == "jira" else ServiceNowStaff(self.fake)

    @property
    def comment_method(self) -> str:
        """How the backend posts a comment (a create is a POST on both): the request whose answer a test loses."""
        return "POST" if self.name == "jira" else "PATCH"

    def environ(self) -> Dict[str, str]:
        common = {
            "TICKET_BACKEND": self.name,
            "TICKET_OUTBOX_WORKER": "false",
            "TICKET_BACKEND_TIMEOUT": "0.5",
            "TICKET_OUTBOX_BACKOFF": str(BACKOFF),
            "TICKET_OUTBOX_MAX_BACKOFF": str(BACKOFF),
        }
        if self.name == "jira":
            return common | {
                "JIRA_URL": self.fake.url,
                "JIRA_EMAIL": "assistant@example.com",
                "JIRA_API_TOKEN": "assistant-api-token",
                "JIRA_SERVICE_DESK_ID": "1",
                "JIRA_REQUEST_TYPE_ID": "10",
            }
        return common | {
            "SERVICENOW_URL": self.fake.url,
            "SERVICENOW_USER": "alimail.integration",
            "SERVICENOW_PASSWORD": "integration-password",
        }

    def tickets(self) -> List[Dict[str, str]]:
        """What the helpdesk holds: one {summary, text} per remote ticket."""
        if self.name == "jira":
            return [
                {"summary": r.fields["summary"], "text": r.fields.get("description", "")}
                for r in self.fake.created_requests()
            ]
        return [{"summary": i["short_description"], "text": i["description"]} for i in self.fake.incidents()]

    def creates(self) -> int:
        path = API + "/request" if self.name == "jira" else "/api/now/table/incident"
        return len([c for c in self.fake.calls("POST", path) if c.path == path])

    def reply(self, ref: RemoteRef, text: str) -> None:
        if self.name == "jira":
            self.staff.reply(ref.remote_id, text)
            self.staff.transition(ref.remote_id, "In progress")
        else:
            self.staff.update(ref.remote_id, comments=text, state="2")

    def user_comments(self, ref: RemoteRef) -> List[str]:
        """The comments the assistant's account posted on the remote ticket, as staff see them."""
        if self.name == "jira":
            return [
                c["body"]
                for c in self.staff.comments(ref.remote_id)
                if c["author"]["emailAddress"] == "assistant@example.com"
            ]
        return [e["value"] for e in self.staff.journal(ref.remote_id) if e["sys_created_by"] == "alimail.integration"]


@pytest.fixture(params=["jira", "servicenow"])
def helpdesk(request: pytest.FixtureRequest) -> Iterator[Helpdesk]:
    desk = Helpdesk(request.param)
    yield desk
    desk.fake.stop()
    assert desk.fake.violations == []


@pytest.fixture()
def desk(helpdesk: Helpdesk, tmp_path: Path) -> TicketDesk:
    settings = Settings.from_environ(helpdesk.environ())
    store = TicketStore(f"sqlite:///{tmp_path / 'tickets.sqlite3'}")
    return TicketDesk(store, make_backend(settings, store), settings)


def new_ticket(sender: str = "u-1", key: str = "conv-1", **changes: Any) -> NewTicket:
    values: Dict[str, Any] = dict(
        idempotency_key=key,
        priority="High",
        queue="support",
        contact_email="user@example.com",
        description=f"I can't log in; my password is {SECRET_PASSWORD}",
        channel="rest",
        sender_id=sender,
        problem="forgot_password",
        transcript=[
            {"who": "user", "text": "I forgot my password"},
            {"who": "bot", "text": "Let's reset it."},
            {"who": "user", "text": f"the code was {SECRET_CODE}"},
        ],
    )
    values.update(changes)
    return NewTicket(**values)


def deliver_until(desk: TicketDesk, done: Callable[[Dict[str, int]], bool], seconds: float = 10.0) -> Dict[str, int]:
    """deliver_due() until `done(counts)` (the outbox backs off BACKOFF seconds between attempts)."""
    deadline = time.monotonic() + seconds
    while True:
        counts = desk.deliver_due()
        if done(counts) or time.monotonic() > deadline:
            return counts
        time.sleep(BACKOFF)


def test_create_then_status_after_a_staff_reply(helpdesk: Helpdesk, desk: TicketDesk) -> None:
    ticket, created = desk.open(new_ticket())
    assert created
    (view,) = desk.views_for_sender("u-1", "rest")
    assert view.status == RECEIVED  # stored, reference given, not yet in the helpdesk
    assert desk.deliver_due()["delivered"] == 1
    (remote,) = helpdesk.tickets()
    assert ticket.id in remote["summary"]
    assert "Forgotten Password" in remote["summary"] or "password" in remote["summary"].lower()
    assert "I forgot my password" in remote["text"]  # the transcript
    assert SECRET_PASSWORD not in remote["text"] and SECRET_CODE not in remote["text"]  # masked
    assert "my password is" in remote["text"] and "the code was" in remote["text"]
    (view,) = desk.views_for_sender("u-1", "rest")
    assert (view.status, view.latest_reply) == ("open", None)
    assert view.remote is not None
    helpdesk.reply(view.remote, "Please reset it from the login page.")
    (view,) = desk.views_for_sender("u-1", "rest")
    assert (view.status, view.latest_reply) == ("in_progress", "Please reset it from the login page.")
    # Ownership is ours: another sender, or the same sender on another channel, sees nothing.
    assert desk.views_for_sender("u-2", "rest") == [] and desk.views_for_sender("u-1", "slack") == []


def test_user_comment_reaches_staff_once(helpdesk: Helpdesk, desk: TicketDesk) -> None:
    ticket, _ = desk.open(new_ticket())
    desk.deliver_due()
    desk.add_comment(ticket.id, "u-1", "rest", "It still fails, code 535", key="m-1")
    desk.add_comment(ticket.id, "u-1", "rest", "It still fails, code 535", key="m-1")  # the same message again
    assert desk.deliver_due()["delivered"] == 1
    ref = desk.remote_ref(ticket.number)
    assert ref is not None
    (comment,) = helpdesk.user_comments(ref)
    assert comment.startswith("It still fails, code 535")
    (view,) = desk.views_for_sender("u-1", "rest")
    assert view.latest_reply is None  # the user's own comment is not a reply from staff


def test_retry_after_a_timeout_whose_request_arrived_creates_once(helpdesk: Helpdesk, desk: TicketDesk) -> None:
    ticket, _ = desk.open(new_ticket())
    helpdesk.fake.lose_responses(1, method="POST")
    assert desk.deliver_due()["retry"] == 1  # timed out, but the helpdesk has it
    assert len(helpdesk.tickets()) == 1
    (waiting,) = desk.waiting()
    assert waiting.attempts == 1 and "timed out" in (waiting.last_error or "")
    counts = deliver_until(desk, lambda c: c["delivered"] == 1)
    assert counts["delivered"] == 1
    assert len(helpdesk.tickets()) == 1 and helpdesk.creates() == 1  # found, not created again
    assert desk.remote_ref(ticket.number) is not None and desk.waiting() == []
    # The same for a comment whose answer was lost.
    desk.add_comment(ticket.id, "u-1", "rest", "Any news?", key="m-1")
    helpdesk.fake.lose_responses(1, method=helpdesk.comment_method)
    assert desk.deliver_due()["retry"] == 1
    assert deliver_until(desk, lambda c: c["delivered"] == 1)["delivered"] == 1
    ref = desk.remote_ref(ticket.number)
    assert ref is not None and len(helpdesk.user_comments(ref)) == 1


def test_helpdesk_stopped_mid_conversation(helpdesk: Helpdesk, desk: TicketDesk) -> None:
    ticket, _ = desk.open(new_ticket())
    desk.deliver_due()
    ref = desk.remote_ref(ticket.number)
    assert ref is not None
    helpdesk.reply(ref, "Which client do you use?")
    helpdesk.fake.stop()
    (view,) = desk.views_for_sender("u-1", "rest")
    assert view.status == UNREACHABLE  # the answer says so; nothing breaks
    desk.add_comment(ticket.id, "u-1", "rest", "Outlook 2019", key="m-1")  # queued while it is down
    assert desk.deliver_due()["retry"] == 1
    assert desk.deliver_due()["delivered"] == 0
    helpdesk.fake.start()
    assert deliver_until(desk, lambda c: c["delivered"] == 1)["delivered"] == 1
    assert deliver_until(desk, lambda c: True) == {"delivered": 0, "retry": 0, "rejected": 0, "skipped": 0}
    (comment,) = helpdesk.user_comments(ref)
    assert comment.startswith("Outlook 2019")
    (view,) = desk.views_for_sender("u-1", "rest")
    assert (view.status, view.latest_reply) == ("in_progress", "Which client do you use?")


def test_stop_open_ten_restart_finds_exactly_ten(helpdesk: Helpdesk, desk: TicketDesk) -> None:
    helpdesk.fake.stop()
    opened = [desk.open(new_ticket(sender=f"u-{n}", key=f"conv-{n}"))[0] for n in range(10)]
    assert desk.deliver_due()["retry"] == 10
    assert all(desk.views_for_sender(f"u-{n}", "rest")[0].status == RECEIVED for n in range(10))
    assert len(desk.waiting()) == 10
    helpdesk.fake.start()
    worker = DeliveryWorker(desk, interval=BACKOFF).start()  # the action server's delivery thread
    try:
        deadline = time.monotonic() + 20
        while desk.waiting() and time.monotonic() < deadline:
            time.sleep(BACKOFF)
    finally:
        worker.stop()
    assert not worker.running
    remote = helpdesk.tickets()
    assert len(remote) == 10 and helpdesk.creates() == 10
    assert sorted(t.id for t in opened) == sorted(r["summary"].rsplit("[", 1)[1].rstrip("]") for r in remote)
    assert desk.waiting() == [] and desk.deliver_due()["delivered"] == 0
    assert all(desk.views_for_sender(f"u-{n}", "rest")[0].status == "open" for n in range(10))


def test_bad_credentials_are_rejected_then_retried_by_an_operator(helpdesk: Helpdesk, tmp_path: Path) -> None:
    secret = "JIRA_API_TOKEN" if helpdesk.name == "jira" else "SERVICENOW_PASSWORD"
    settings = Settings.from_environ(helpdesk.environ() | {secret: "wrong-secret"})
    store = TicketStore(f"sqlite:///{tmp_path / 'tickets.sqlite3'}")
    bad = TicketDesk(store, make_backend(settings, store), settings)
    ticket, _ = bad.open(new_ticket())
    assert bad.deliver_due()["rejected"] == 1
    (row,) = bad.waiting()
    assert (
        row.state == REJECTED and "HTTP 401" in (row.last_error or "") and "wrong-secret" not in (row.last_error or "")
    )
    assert bad.deliver_due()["rejected"] == 0  # not retried by itself
    assert bad.view_for_sender(ticket.id, "u-1", "rest").status == RECEIVED

    good_settings = Settings.from_environ(helpdesk.environ())  # the operator fixed the secret
    good = TicketDesk(store, make_backend(good_settings, store), good_settings)
    assert good.retry(ticket.id) == 1
    assert good.deliver_due()["delivered"] == 1
    assert len(helpdesk.tickets()) == 1


def cli(environ: Dict[str, str], db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tickets.cli", "--db-url", f"sqlite:///{db}", *args],
        cwd=ROOT,
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_backend_check(helpdesk: Helpdesk, tmp_path: Path) -> None:
    done = cli(helpdesk.environ(), tmp_path / "t.sqlite3", "backend-check")
    assert done.returncode == 0 and done.stdout.startswith(f"{helpdesk.name}: ok"), done.stdout + done.stderr
    secret = "JIRA_API_TOKEN" if helpdesk.name == "jira" else "SERVICENOW_PASSWORD"
    done = cli(helpdesk.environ() | {secret: "wrong-secret"}, tmp_path / "t.sqlite3", "backend-check")
    assert done.returncode == 5 and "HTTP 401" in done.stdout and "wrong-secret" not in done.stdout + done.stderr


# -- the conversation does not change with the backend --------------------------------------------


def test_the_conversation_is_the_same(helpdesk: Helpdesk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from actions.ticket_actions import ticket_store
    from core.settings import get_settings

    try:
        builtin = converse(monkeypatch, {}, tmp_path / "builtin.sqlite3")
        remote = converse(monkeypatch, helpdesk.environ(), tmp_path / "remote.sqlite3")
        assert remote["confirmation"] == builtin["confirmation"]  # same words, same reference ALM-000001
        assert "ALM-000001" in remote["confirmation"]
        assert "received, not yet in the helpdesk" in remote["status"]
        desk = remote["desk"]
        assert desk.backend.name == helpdesk.name and desk.deliver_due()["delivered"] == 1

        def undated(text: str) -> str:
            return re.sub(r"last update [^\n]+", "last update …", text)

        assert undated(remote["status_again"]()) == undated(builtin["status_again"]())  # delivered: the same answer
        ref = desk.remote_ref(1)
        assert ref is not None
        helpdesk.reply(ref, "Done, log in again.")
        answer = remote["status_again"]()
        assert "in progress" in answer and "Latest note from support: Done, log in again." in answer
    finally:
        get_settings.cache_clear()
        ticket_store.cache_clear()
