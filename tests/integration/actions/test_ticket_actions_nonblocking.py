"""The real action server stays responsive while a ticket action waits for a locked ticket database."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests

from tests import ticket_conversation
from tickets.store import TicketStore
from tools import processes

ROOT = Path(__file__).resolve().parents[3]
LOCK_SECONDS = 3.0
FAST_SECONDS = 1.0


def tracker(sender: str, intent: str, slots: Dict[str, Any]) -> Dict[str, Any]:
    """A tracker state as Rasa sends it: one user message over the REST channel."""
    latest = {
        "text": f"/{intent}",
        "intent": {"name": intent, "confidence": 1.0},
        "entities": [],
        "intent_ranking": [{"name": intent, "confidence": 1.0}],
    }
    return {
        "sender_id": sender,
        "slots": dict({"language": "en"}, **slots),
        "latest_message": latest,
        "events": [{"event": "user", "text": latest["text"], "parse_data": latest, "input_channel": "rest"}],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    }


def call(base: str, action: str, sender: str, intent: str, slots: Dict[str, Any]) -> requests.Response:
    body: Dict[str, Any] = {
        "next_action": action,
        "sender_id": sender,
        "tracker": tracker(sender, intent, slots),
        "domain": {},
        "version": "3.6.2",
    }
    return requests.post(f"{base}/webhook", json=body, timeout=30)


def texts(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    return "\n".join(r.get("text") or "" for r in response.json()["responses"])


CONFIRMED = {**ticket_conversation.CONFIRMED, "ticket_request_id": "nonblocking-1"}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.sqlite3"
    TicketStore(f"sqlite:///{path}").ensure_schema()  # WAL mode and tables exist before the lock
    return path


@pytest.fixture
def action_server(db_path: Path, tmp_path: Path) -> Iterator[str]:
    port = processes.free_port()
    env = dict(
        os.environ,
        TICKETS_DB_URL=f"sqlite:///{db_path}",
        SANIC_HOST="127.0.0.1",
        ACTION_SERVER_SANIC_WORKERS="1",  # one process, one event loop: what this test is about
    )
    env.pop("TICKET_WEBHOOK_URL", None)
    env.pop("ACTION_SERVER_TOKEN", None)  # on loopback, no shared secret: this test is about blocking
    log = tmp_path / "actions.log"
    process = processes.start(
        [
            sys.executable,
            "-m",
            "tools.serve",
            "actions",
            "--actions",
            "actions",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        ROOT,
        env,
        log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        processes.wait_until(f"{base}/health", process, log, 120)
        yield base
    finally:
        processes.stop(process, grace=20)


def test_other_conversations_are_answered_while_a_ticket_waits_for_the_database(action_server, db_path):
    # Warm up: the first call loads the knowledge file, which is not what is measured.
    assert "password" in texts(call(action_server, "action_start_guide", "warmup", "forgot_password", {})).lower()

    lock = sqlite3.connect(str(db_path), isolation_level=None, timeout=5)
    results: List[requests.Response] = []
    finished_at: List[float] = []

    def conversation_a() -> None:
        results.append(call(action_server, "action_submit_ticket", "alice", "affirm", CONFIRMED))
        finished_at.append(time.monotonic())

    worker = threading.Thread(target=conversation_a, daemon=True)
    try:
        lock.execute("BEGIN EXCLUSIVE")  # the ticket database's write lock, held by "another process"
        locked_at = time.monotonic()
        worker.start()
        time.sleep(1.0)  # A has reached the server and waits for the lock
        assert not finished_at, "conversation A should still be waiting for the lock"

        started = time.monotonic()
        answer_b = call(action_server, "action_start_guide", "bob", "forgot_password", {})
        elapsed = time.monotonic() - started
        assert "password" in texts(answer_b).lower()
        assert elapsed < FAST_SECONDS, f"conversation B took {elapsed:.2f}s while A waited for the database"
        assert not finished_at, "conversation A finished before the lock was released"

        time.sleep(max(0.0, locked_at + LOCK_SECONDS - time.monotonic()))
    finally:
        if lock.in_transaction:
            lock.rollback()
        released_at = time.monotonic()
        lock.close()
    worker.join(timeout=20)

    assert results, "conversation A got no answer after the lock was released"
    answer_a = texts(results[0])
    assert "Your ticket **ALM-" in answer_a and "postmaster" in answer_a
    assert finished_at[0] >= released_at - 0.05
    assert len(TicketStore(f"sqlite:///{db_path}").list_for_sender("alice", "rest")) == 1
