"""tickets/outbox.py on SQLite and PostgreSQL (127.0.0.1:5432, database `test`, a fresh schema per test),
delivering to the session's real Request Tracker 5 (conftest.py) or to a port where nothing listens.

PostgreSQL: when it is not reachable these tests fail, unless TICKETS_SKIP_POSTGRES=1 (then they skip).
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from core.settings import Settings
from tests.integration.tickets.test_store import Backend as Database
from tests.local_stores import closed_port
from tests.rt_server import RTServer
from tickets.backends import make_backend
from tickets.outbox import DELIVERED, PENDING, RECEIVED, TicketDesk
from tickets.store import NewTicket, TicketNotFound, TicketStore


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    db = Database(request.param, tmp_path)
    yield db
    db.close()


def desk_on(store: TicketStore, rt_url: str, token: str) -> TicketDesk:
    settings = Settings.from_environ(
        {
            "TICKET_BACKEND": "rt",
            "RT_URL": rt_url,
            "RT_TOKEN": token,
            "TICKET_BACKEND_TIMEOUT": "10",
            "TICKET_OUTBOX_BACKOFF": "0.01",
            "TICKET_OUTBOX_MAX_BACKOFF": "0.01",
        }
    )
    return TicketDesk(store, make_backend(settings, store), settings)


def new_ticket(email: str, sender: str, channel: str = "rest") -> NewTicket:
    return NewTicket(
        idempotency_key=f"{channel}:{sender}:{uuid.uuid4().hex}",
        priority="Medium",
        queue="postmaster",
        contact_email=email,
        description="cannot log in",
        channel=channel,
        sender_id=sender,
        problem="account_locked",
        transcript=[{"who": "user", "text": "locked out"}],
    )


def test_two_workers_deliver_each_ticket_once(database: Database, rt: RTServer) -> None:
    url = database.fresh_url()
    first = desk_on(database.store(url), rt.url, rt.token or "")
    second = desk_on(database.store(url), rt.url, rt.token or "")  # another process's worker, same database
    email = f"pair-{uuid.uuid4().hex[:10]}@corp.example"
    opened = [first.open(new_ticket(email, f"user-{n}"))[0] for n in range(4)]
    results = []
    start = threading.Barrier(2)

    def work(desk: TicketDesk) -> None:
        start.wait()
        results.append(desk.deliver_due())

    threads = [threading.Thread(target=work, args=(desk,)) for desk in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(r["delivered"] for r in results) == 4 and sum(r["retry"] for r in results) == 0
    assert len(rt.search(f"Requestor.EmailAddress = '{email}'")) == 4
    rows = first.deliveries()
    assert [(r.state, r.attempts) for r in rows] == [(DELIVERED, 1)] * 4
    for ticket in opened:
        view = second.view_for_sender(ticket.id, ticket.sender_id, "rest")
        assert view.status == "open" and view.remote is not None


def test_the_outbox_and_ownership_while_the_helpdesk_is_down(database: Database) -> None:
    desk = desk_on(database.store(database.fresh_url()), f"http://127.0.0.1:{closed_port()}/", "t")
    mine, _ = desk.open(new_ticket("a@corp.example", "alice"))
    theirs, _ = desk.open(new_ticket("b@corp.example", "bob"))
    desk.add_comment(mine.id, "alice", "rest", "more details", key="k1")
    with pytest.raises(TicketNotFound):
        desk.add_comment(theirs.id, "alice", "rest", "not mine", key="k2")
    assert [v.ticket.id for v in desk.views_for_sender("alice", "rest")] == [mine.id]
    assert desk.view_for_sender(mine.id, "alice", "rest").status == RECEIVED
    assert desk.deliver_due() == {"delivered": 0, "retry": 2, "rejected": 0, "skipped": 1}
    assert [(r.ticket_id, r.kind, r.state, r.attempts) for r in desk.waiting()] == [
        (mine.id, "create", PENDING, 1),
        (theirs.id, "create", PENDING, 1),
        (mine.id, "comment", PENDING, 0),
    ]
