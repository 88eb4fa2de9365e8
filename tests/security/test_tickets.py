"""Attacks on the ticket API and the staff notifications (issue 13, finding 5), against the real
`python -m tickets.api` process (and scripts/run.sh's command line for it) on local ports, and
fake webhooks on 127.0.0.1 (tests/fake_http.py).

Each test says in its docstring why it failed on the code before issue 13.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Set

import pytest
import requests
from sqlalchemy import text

from tests.fake_http import RecordingServer
from tickets import notify
from tickets.store import NewTicket, Ticket, TicketStore
from tools import processes

ROOT = Path(__file__).resolve().parents[2]
RUN_SH = ROOT / "scripts" / "run.sh"
SECRET = "whsec-" + uuid.uuid4().hex
LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp*
TOO_LONG_COMMENT = "x" * 20_000  # over any staff note's limit, under the 64 KiB body limit


# -- helpers ----------------------------------------------------------------------------------------
def listening_addresses(port: int) -> Set[str]:
    """The local addresses with a socket listening on TCP `port` (from /proc/net/tcp and tcp6)."""
    found: Set[str] = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] != LISTEN or int(hex_port, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, raw))
    return found


def child_env(**values: str) -> Dict[str, str]:
    """This environment without any ticket or host setting, plus `values`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TICKETS_", "TICKET_WEBHOOK_", "RASA_"))
    }
    env.update(values)
    return env


@contextmanager
def running(cmd: Any, env: Dict[str, str], log: Path, port: int) -> Iterator[subprocess.Popen]:
    """`cmd` started (in the project folder), until something listens on `port`."""
    process = processes.start(cmd, ROOT, env, log)
    try:
        processes.wait_for(lambda: bool(listening_addresses(port)), process, log, 30, f"listener on port {port}")
        yield process
    finally:
        processes.stop(process, grace=10)


def new_ticket(store: TicketStore) -> Ticket:
    ticket, _ = store.create(
        NewTicket(
            idempotency_key=uuid.uuid4().hex,
            priority="high",
            queue="postmaster",
            contact_email="pm@example.org",
            description="Bounces from example.com",
            channel="socketio",
            sender_id="employee-42",
            transcript=[{"who": "user", "text": "my mail bounces"}],
        )
    )
    return ticket


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TicketStore]:
    store = TicketStore(f"sqlite:///{tmp_path / 'tickets.sqlite3'}")
    store.ensure_schema()
    yield store
    store.engine.dispose()


@contextmanager
def ticket_api(store: TicketStore, log: Path, **settings: str) -> Iterator[str]:
    """`python -m tickets.api` on 127.0.0.1 with these settings; yields its base URL."""
    port = processes.free_port()
    cmd = [sys.executable, "-m", "tickets.api", "--host", "127.0.0.1", "--port", str(port), "--db-url", store.url]
    with running(cmd, child_env(**settings), log, port) as process:
        base = f"http://127.0.0.1:{port}"
        processes.wait_until(f"{base}/health", process, log, 30)
        yield base


def a_ticket() -> Ticket:
    stamp = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    return Ticket(
        number=42,
        created_at=stamp,
        updated_at=stamp,
        status="open",
        priority="high",
        queue="postmaster",
        assignee=None,
        problem=None,
        error_code=None,
        steps_tried=[],
        is_postmaster=True,
        contact_email="ops@example.com",
        description="Mail to gmail bounces.",
        eml_delivery=None,
        language="en",
        channel="socketio",
        sender_id="employee-42",
        transcript=[],
    )


def notify_with(monkeypatch: pytest.MonkeyPatch, url: str, **settings: str) -> None:
    """Send one notification of a_ticket() to `url` (settings as TICKET_WEBHOOK_*), and wait for it."""
    monkeypatch.setenv("TICKET_WEBHOOK_URL", url)
    for name in ("FORMAT", "SECRET", "TIMEOUT", "RETRIES"):
        monkeypatch.delenv(f"TICKET_WEBHOOK_{name}", raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(f"TICKET_WEBHOOK_{name.upper()}", value)
    thread = notify.notify_ticket_created(a_ticket())
    assert thread is not None
    thread.join(15)
    assert not thread.is_alive()


def readme_verifier() -> Callable[..., bool]:
    """`verify_alimail_signature` as the README's "Tickets" section gives it to webhook receivers."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    snippets = [block for block in blocks if "def verify_alimail_signature" in block]
    assert len(snippets) == 1, "the README must give one verify_alimail_signature snippet"
    (snippet,) = snippets
    namespace: Dict[str, Any] = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    return namespace["verify_alimail_signature"]


# -- notifications --------------------------------------------------------------------------------
def test_a_redirecting_webhook_does_not_get_the_ticket_sent_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: requests.post followed redirects (its default), so a webhook answering 307 had the
    ticket (contact email, description) POSTed again to whatever host its Location named."""
    collector = RecordingServer()
    webhook = RecordingServer(lambda record: (307, {}, {"Location": f"{collector.url}/collect"}))
    try:
        notify_with(monkeypatch, f"{webhook.url}/hook", retries="3")
        assert len(webhook.snapshot()) == 1  # a redirect is final: not retried either
        time.sleep(0.2)
        assert collector.snapshot() == []
    finally:
        webhook.close()
        collector.close()


def test_the_json_signature_verifies_with_the_readmes_snippet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a JSON notification carried no signature header (the secret only signed DingTalk
    URLs) and the README had no snippet, so a receiver could not tell a forged ticket from ours."""
    verify = readme_verifier()
    webhook = RecordingServer()
    try:
        notify_with(monkeypatch, f"{webhook.url}/hook", secret=SECRET)
        (request,) = webhook.snapshot()
    finally:
        webhook.close()
    body, headers = request["raw"], request["headers"]
    stamp, signature = headers.get("x-alimail-timestamp", ""), headers.get("x-alimail-signature", "")
    assert verify(SECRET, body, stamp, signature) is True
    assert request["json"]["ticket"]["contact_email"] == "ops@example.com"

    tampered = body.replace(b"ops@example.com", b"evil@example.com")
    assert tampered != body
    assert verify(SECRET, tampered, stamp, signature) is False
    assert verify("another-secret", body, stamp, signature) is False
    assert verify(SECRET, body, str(int(stamp) + 1), signature) is False  # the time is signed
    assert verify(SECRET, body, stamp, "sha256=" + "0" * 64) is False
    # A replay: correctly signed, but 10 minutes old.
    old = str(int(time.time()) - 600)
    assert verify(SECRET, body, old, notify.json_signature(SECRET, int(old), body)) is False
    assert verify(SECRET, body, "²", signature) is False  # odd headers are refused, not a crash


# -- the ticket API -------------------------------------------------------------------------------
def test_run_sh_serves_the_ticket_api_on_its_own_host_not_rasas(tmp_path: Path, store: TicketStore) -> None:
    """Before: run.sh started the API with `--host "$RASA_HOST"`, so RASA_HOST=0.0.0.0 (to expose
    the chat) put every ticket on every interface. Runs run.sh's own defaults and its command line
    for the API, with RASA_HOST=0.0.0.0 and TICKETS_API_HOST unset."""
    lines = RUN_SH.read_text(encoding="utf-8").splitlines()
    defaults = [line for line in lines if re.fullmatch(r"[A-Z_]+=\$\{[A-Z_]+:-[^}]*\}", line)]
    (command,) = [line.strip() for line in lines if "-m tickets.api" in line]
    # run.sh's `launch` case: `tickets-api) <command> >> <log> 2>&1 & ;;` -> the command alone
    command = command.removeprefix("tickets-api)").split(">", 1)[0].strip()
    port = processes.free_port()
    env = child_env(
        RASA_HOST="0.0.0.0",
        TICKETS_API_PORT=str(port),
        TICKETS_DB_URL=store.url,
        TICKETS_API_TOKENS="alice:" + uuid.uuid4().hex,
    )
    script = "\n".join(["set -eu", *defaults, f"exec {command}"])
    with running(["bash", "-c", script], env, tmp_path / "run-sh-api.log", port):
        assert listening_addresses(port) == {"127.0.0.1"}


def test_the_api_listens_on_tickets_api_host(tmp_path: Path, store: TicketStore) -> None:
    """Before: `python -m tickets.api` had no TICKETS_API_HOST; without --host it took 127.0.0.1
    (and run.sh gave it Rasa's host)."""
    port = processes.free_port()
    env = child_env(TICKETS_API_HOST="127.0.0.2", TICKETS_API_TOKENS="alice:" + uuid.uuid4().hex)
    cmd = [sys.executable, "-m", "tickets.api", "--port", str(port), "--db-url", store.url]
    with running(cmd, env, tmp_path / "api-host.log", port):
        assert listening_addresses(port) == {"127.0.0.2"}
        assert requests.get(f"http://127.0.0.2:{port}/health", timeout=5).json() == {"status": "ok"}


def refuse_comments(store: TicketStore) -> None:
    """Make the database refuse to record a comment, as a full disk or a failing constraint would."""
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse_comments BEFORE INSERT ON ticket_events WHEN NEW.kind = 'comment' "
                "BEGIN SELECT RAISE(ABORT, 'comments refused'); END"
            )
        )


def unchanged(store: TicketStore, ticket: Ticket) -> bool:
    stored = store.get(ticket.id)
    return (stored.status, stored.assignee, [e.kind for e in stored.events]) == ("open", None, ["created"])


@pytest.mark.parametrize("failure", ["database refuses the comment", "comment too long"])
def test_a_patch_whose_comment_fails_changes_neither_status_nor_assignee(
    tmp_path: Path, store: TicketStore, failure: str
) -> None:
    """Before: the API applied status, assignee and comment in three transactions, so when the
    comment failed (refused by the database: 503; too long: it had no limit and was stored) the
    ticket was left in progress and assigned, with or without the note that explained it."""
    token = uuid.uuid4().hex
    ticket = new_ticket(store)
    comment = TOO_LONG_COMMENT if failure == "comment too long" else "Reset done"
    if failure == "database refuses the comment":
        refuse_comments(store)
    # The single token: the same request on the code before and after (the named tokens are new).
    with ticket_api(store, tmp_path / "api.log", TICKETS_API_TOKEN=token) as base:
        response = requests.patch(
            f"{base}/tickets/{ticket.id}",
            json={"status": "in_progress", "assignee": "bob", "comment": comment},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    assert unchanged(store, ticket), "the ticket was changed in part"
    assert response.status_code == (400 if failure == "comment too long" else 503), response.text[:300]
    assert "Traceback" not in response.text


def test_the_author_is_the_tokens_name_not_the_bodys(tmp_path: Path, store: TicketStore) -> None:
    """Before: the author was the body's `author` (default "api"), so whoever held the one shared
    token could record changes in anyone's name: with the single token a body saying "mallory"
    recorded mallory, and named tokens did not exist. Now the single (deprecated) token records
    `staff`, and alice's named token records alice, whatever the body says."""
    alice, bob, legacy = (uuid.uuid4().hex for _ in range(3))
    ticket = new_ticket(store)

    def change(base: str, token: str, body: Dict[str, str]) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return requests.patch(f"{base}/tickets/{ticket.id}", json=body, headers=headers, timeout=10)

    with ticket_api(store, tmp_path / "api-legacy.log", TICKETS_API_TOKEN=legacy) as base:
        response = change(base, legacy, {"comment": "Looking", "author": "mallory"})
        assert response.status_code == 200, response.text
        assert response.json()["events"][-1]["author"] == "staff"
    named = f"alice:{alice},bob:{bob}"
    with ticket_api(store, tmp_path / "api-named.log", TICKETS_API_TOKENS=named) as base:
        response = change(
            base, alice, {"comment": "I reset the password", "author": "mallory", "status": "in_progress"}
        )
        assert response.status_code == 200, response.text
        assert change(base, "mallory", {"comment": "x"}).status_code == 401
        assert change(base, legacy, {"comment": "x"}).status_code == 401  # not configured here
    events = [(e.kind, e.author) for e in store.get(ticket.id).events]
    assert events == [("created", "assistant"), ("comment", "staff"), ("status", "alice"), ("comment", "alice")]
