"""The staff command line (`python -m tickets.cli`), run as a subprocess against a temporary SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from tickets.store import NewTicket, Ticket, TicketStore

ROOT = Path(__file__).resolve().parents[3]
UNREACHABLE_DB = "postgresql://postgres@127.0.0.1:1/test"


def new_ticket(key: str, queue: str = "postmaster", priority: str = "high", problem: str = "delivery") -> NewTicket:
    return NewTicket(
        idempotency_key=key,
        priority=priority,
        queue=queue,
        contact_email="pm@example.org",
        description="Mail to example.com bounces.",
        channel="rest",
        sender_id="user-1",
        problem=problem,
        error_code="550 5.7.1",
        transcript=[{"who": "user", "text": "my mail bounces"}, {"who": "bot", "text": "sorry!"}],
    )


@pytest.fixture
def db(tmp_path: Path) -> Dict[str, object]:
    """A SQLite URL holding a postmaster ticket and a support ticket."""
    url = f"sqlite:///{tmp_path / 'tickets.sqlite3'}"
    store = TicketStore(url)
    postmaster, _ = store.create(new_ticket("cli-1", queue="postmaster", problem="blocklisted"))
    support, _ = store.create(new_ticket("cli-2", queue="support", priority="low", problem="login"))
    return {"url": url, "store": store, "postmaster": postmaster, "support": support}


def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, USER="tester")
    env.pop("TICKETS_DB_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "tickets.cli", "--db-url", url, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ids(output: str) -> List[str]:
    return [item["id"] for item in json.loads(output)]


def test_list_shows_a_table_of_all_tickets(db):
    result = cli(db["url"], "list")
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0]
    for column in ("ID", "STATUS", "PRIORITY", "QUEUE", "ASSIGNEE", "PROBLEM", "UPDATED"):
        assert column in header
    assert db["postmaster"].id in result.stdout and db["support"].id in result.stdout


def test_list_filters_by_queue_and_status(db):
    postmaster: Ticket = db["postmaster"]
    support: Ticket = db["support"]
    result = cli(db["url"], "list", "--queue", "support", "--json")
    assert result.returncode == 0, result.stderr
    assert ids(result.stdout) == [support.id]
    assert "transcript" not in json.loads(result.stdout)[0]

    db["store"].set_status(postmaster.id, "in_progress", author="test")
    assert ids(cli(db["url"], "list", "--status", "in_progress", "--json").stdout) == [postmaster.id]
    assert ids(cli(db["url"], "list", "--status", "open", "--json").stdout) == [support.id]
    assert ids(cli(db["url"], "list", "--queue", "support", "--status", "closed", "--json").stdout) == []
    assert "No tickets" in cli(db["url"], "list", "--status", "closed").stdout


def test_list_rejects_an_unknown_queue(db):
    result = cli(db["url"], "list", "--queue", "sales")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_show_prints_fields_history_and_transcript(db):
    ticket: Ticket = db["postmaster"]
    result = cli(db["url"], "show", ticket.id)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert ticket.id in out and "blocklisted" in out and "550 5.7.1" in out and "pm@example.org" in out
    assert "Events:" in out and "opened from rest" in out
    assert "Transcript:" in out and "my mail bounces" in out and "sorry!" in out

    data = json.loads(cli(db["url"], "show", ticket.id.lower(), "--json").stdout)
    assert data["id"] == ticket.id
    assert data["transcript"][0]["text"] == "my mail bounces"
    assert data["events"][0]["kind"] == "created"


def test_show_escapes_control_characters_from_users(db):
    ticket, _ = db["store"].create(
        NewTicket(
            idempotency_key="cli-evil",
            priority="low",
            queue="support",
            contact_email="x@example.org",
            description="hi \x1b[2J there",
            channel="rest",
            sender_id="u",
            transcript=[{"who": "user", "text": "\x07"}],
        )
    )
    result = cli(db["url"], "show", ticket.id)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b[2J" in result.stdout


def test_assign_records_who_did_it(db):
    ticket: Ticket = db["postmaster"]
    result = cli(db["url"], "assign", ticket.id, "alice", "--by", "bob")
    assert result.returncode == 0, result.stderr
    assert ticket.id in result.stdout and "alice" in result.stdout
    stored = db["store"].get(ticket.id)
    assert stored.assignee == "alice"
    assert (stored.events[-1].kind, stored.events[-1].author) == ("assign", "bob")


def test_status_change_and_default_author(db):
    ticket: Ticket = db["support"]
    result = cli(db["url"], "status", ticket.id, "in_progress")
    assert result.returncode == 0, result.stderr
    assert "in_progress" in result.stdout
    stored = db["store"].get(ticket.id)
    assert stored.status == "in_progress"
    assert (stored.events[-1].kind, stored.events[-1].author) == ("status", "tester")  # $USER


def test_invalid_transition_exits_4(db):
    ticket: Ticket = db["support"]
    assert cli(db["url"], "status", ticket.id, "closed").returncode == 0
    result = cli(db["url"], "status", ticket.id, "open")
    assert result.returncode == 4
    assert result.stderr.strip().count("\n") == 0 and "closed" in result.stderr
    assert db["store"].get(ticket.id).status == "closed"


def test_unknown_status_is_bad_usage(db):
    assert cli(db["url"], "status", db["support"].id, "done").returncode == 2


def test_comment_joins_words_and_appears_in_show(db):
    ticket: Ticket = db["postmaster"]
    result = cli(db["url"], "comment", ticket.id, "Asked", "for", "headers", "--by", "carol")
    assert result.returncode == 0, result.stderr
    events = json.loads(cli(db["url"], "show", ticket.id, "--json").stdout)["events"]
    last = events[-1]
    assert (last["kind"], last["author"], last["detail"]) == ("comment", "carol", "Asked for headers")


@pytest.mark.parametrize(
    "args",
    [
        ("show", "ALM-999999"),
        ("assign", "ALM-999999", "alice"),
        ("status", "ALM-999999", "closed"),
        ("comment", "ALM-999999", "hi"),
        ("show", "not-a-ticket"),
    ],
)
def test_unknown_ticket_exits_3(db, args):
    result = cli(db["url"], *args)
    assert result.returncode == 3
    assert "not found" in result.stderr and result.stderr.strip().count("\n") == 0


def test_unreachable_database_exits_5():
    result = cli(UNREACHABLE_DB, "list")
    assert result.returncode == 5
    assert "unavailable" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_malformed_database_url_is_bad_usage():
    result = cli("not a url", "list")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
