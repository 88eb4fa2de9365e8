"""The real ticket API stays responsive while a request waits for a locked ticket database."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest
import requests

from tickets.store import NewTicket, TicketStore
from tools import processes

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "test-token-" + uuid.uuid4().hex
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOCK_SECONDS = 3.0
FAST_SECONDS = 1.0


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tickets.sqlite3"


@pytest.fixture
def store(db_path: Path) -> TicketStore:
    store = TicketStore(f"sqlite:///{db_path}")
    store.ensure_schema()  # WAL mode and tables exist before the lock
    return store


@pytest.fixture
def api(db_path: Path, store: TicketStore, tmp_path: Path) -> Iterator[str]:
    port = processes.free_port()
    env = dict(os.environ, TICKETS_API_TOKEN=TOKEN)
    env.pop("TICKETS_DB_URL", None)
    log = tmp_path / "api.log"
    process = processes.start(
        [
            sys.executable,
            "-m",
            "tickets.api",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db-url",
            f"sqlite:///{db_path}",
        ],
        ROOT,
        env,
        log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        processes.wait_until(f"{base}/health", process, log, 30)
        yield base
    finally:
        processes.stop(process, grace=10)


def test_health_answers_while_a_change_waits_for_the_database(api, store, db_path):
    ticket, _ = store.create(
        NewTicket(
            idempotency_key=uuid.uuid4().hex,
            priority="high",
            queue="postmaster",
            contact_email="pm@example.org",
            description="Bounces",
            channel="rest",
            sender_id="user-1",
        )
    )
    # Warm up: the API's first store call migrates (a write) and connects.
    assert requests.get(f"{api}/tickets/{ticket.id}", headers=AUTH, timeout=10).status_code == 200

    lock = sqlite3.connect(str(db_path), isolation_level=None, timeout=5)
    results: List[requests.Response] = []
    finished_at: List[float] = []

    def change() -> None:
        body = {"status": "in_progress", "author": "helpdesk"}
        results.append(requests.patch(f"{api}/tickets/{ticket.id}", json=body, headers=AUTH, timeout=30))
        finished_at.append(time.monotonic())

    worker = threading.Thread(target=change, daemon=True)
    try:
        lock.execute("BEGIN EXCLUSIVE")  # the ticket database's write lock, held by "another process"
        locked_at = time.monotonic()
        worker.start()
        time.sleep(1.0)  # the PATCH has reached the API and waits for the lock
        assert not finished_at, "the PATCH should still be waiting for the lock"

        started = time.monotonic()
        health = requests.get(f"{api}/health", timeout=10)
        elapsed = time.monotonic() - started
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        assert elapsed < FAST_SECONDS, f"/health took {elapsed:.2f}s while a request waited for the database"
        assert not finished_at, "the PATCH finished before the lock was released"

        time.sleep(max(0.0, locked_at + LOCK_SECONDS - time.monotonic()))
    finally:
        if lock.in_transaction:
            lock.rollback()
        released_at = time.monotonic()
        lock.close()
    worker.join(timeout=20)

    assert results, "the PATCH got no answer after the lock was released"
    assert results[0].status_code == 200, results[0].text
    assert results[0].json()["status"] == "in_progress"
    assert finished_at[0] >= released_at - 0.05
    assert store.get(ticket.id).status == "in_progress"
