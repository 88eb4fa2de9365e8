"""tickets/outbox.py: the local record first, the outbox, backoff, claims and ownership, on SQLite.

The helpdesk here is Request Tracker's backend pointed at a local port where nothing listens (the
helpdesk is down) or at a local HTTP server answering as RT would refuse (tests/fake_http.py). Real RT:
tests/integration/tickets/backends/test_rt.py; PostgreSQL: tests/integration/tickets/test_outbox.py.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Iterator

import pytest

from core.settings import Settings
from tests.fake_http import RecordingServer
from tests.local_stores import closed_port
from tests.ticket_requests import PASSWORD, new_ticket
from tickets.backends import make_backend
from tickets.backends.builtin import BuiltinBackend
from tickets.backends.rt import RTBackend
from tickets.outbox import (
    DELIVERED,
    PENDING,
    RECEIVED,
    REJECTED,
    UNREACHABLE,
    TicketDesk,
    backoff_seconds,
)
from tickets.store import InvalidChange, TicketNotFound, TicketStore, now, remote_key


def rt_desk(store: TicketStore, url: str, **extra: str) -> TicketDesk:
    settings = Settings.from_environ(
        {
            "TICKET_BACKEND": "rt",
            "RT_URL": url,
            "RT_TOKEN": "1-2-abc",
            "TICKET_BACKEND_TIMEOUT": "2",
            "TICKET_OUTBOX_BACKOFF": "30",
            "TICKET_OUTBOX_MAX_BACKOFF": "100",
            **extra,
        }
    )
    return TicketDesk(store, make_backend(settings, store), settings)


@pytest.fixture
def down(store: TicketStore) -> TicketDesk:
    """A desk whose helpdesk (RT) is down: nothing listens on its port."""
    return rt_desk(store, f"http://127.0.0.1:{closed_port()}/")


@contextmanager
def serving() -> Iterator[RecordingServer]:
    server = RecordingServer()
    try:
        yield server
    finally:
        server.close()


# -- backoff --------------------------------------------------------------------------------------
def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    assert [backoff_seconds(n, 5, 600) for n in range(0, 10)] == [0, 5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert backoff_seconds(10_000, 5, 600) == 600  # no overflow after days of failures


# -- the built-in backend -------------------------------------------------------------------------
def test_builtin_tickets_need_no_outbox_and_show_the_staff_note_only(store: TicketStore) -> None:
    settings = Settings.from_environ({})
    desk = TicketDesk(store, make_backend(settings, store), settings)
    assert isinstance(desk.backend, BuiltinBackend) and desk.builtin
    ticket, created = desk.open(new_ticket())
    assert created and desk.deliveries() == [] and desk.waiting() == []
    assert desk.view_for_sender(ticket.id, "alice", "rest").status == "open"
    store.comment(ticket.id, "Reset done", author="anna")
    desk.add_comment(ticket.id, "alice", "rest", f"thanks, new password {PASSWORD}", key="k")
    view = desk.view_for_sender(ticket.id, "alice", "rest")
    assert view.latest_reply == "Reset done"  # the user's own comment is not a note from support
    kinds = [(e.kind, e.author, e.detail) for e in store.get(ticket.id).events]
    assert ("user_comment", "requester", "thanks, new password [hidden]") in kinds
    assert desk.deliver_due() == {"delivered": 0, "retry": 0, "rejected": 0, "skipped": 0}
    assert desk.backend.health().ok


def test_only_the_sender_on_the_same_channel_sees_or_comments_a_ticket(store: TicketStore, down: TicketDesk) -> None:
    for desk in (TicketDesk(store, BuiltinBackend(store), Settings.from_environ({})), down):
        ticket, _ = desk.open(new_ticket(sender="alice", channel="slack"))
        assert [v.ticket.id for v in desk.views_for_sender("alice", "slack")][0] == ticket.id
        for sender, channel in (("bob", "slack"), ("alice", "rest")):
            assert ticket.id not in [v.ticket.id for v in desk.views_for_sender(sender, channel)]
            with pytest.raises(TicketNotFound):
                desk.view_for_sender(ticket.id, sender, channel)
            with pytest.raises(TicketNotFound):
                desk.add_comment(ticket.id, sender, channel, "hello", key=f"{sender}{channel}")
        with pytest.raises(InvalidChange):
            desk.add_comment(ticket.id, "alice", "slack", "   ", key="empty")


# -- the outbox while the helpdesk is down --------------------------------------------------------
def test_a_ticket_is_stored_and_queued_at_once_while_the_helpdesk_is_down(store: TicketStore, down: TicketDesk) -> None:
    new = new_ticket()
    ticket, created = down.open(new)
    assert created and ticket.id == "ALM-000001"
    assert down.kick.is_set()  # the worker is woken at once
    (row,) = down.waiting()
    assert (row.kind, row.backend, row.state, row.attempts) == ("create", "rt", PENDING, 0)
    assert row.idempotency_key == remote_key(ticket.number, new.idempotency_key)
    assert row.idempotency_key.startswith("ALM-000001-") and "alice" not in row.idempotency_key
    assert down.view_for_sender(ticket.id, "alice", "rest").status == RECEIVED
    again, created = down.open(new)  # the same request again: the same ticket, queued once
    assert (again.id, created, len(down.waiting())) == (ticket.id, False, 1)


def test_failed_deliveries_back_off_and_keep_going(store: TicketStore, down: TicketDesk) -> None:
    down.open(new_ticket())
    before = now()
    assert down.deliver_due() == {"delivered": 0, "retry": 1, "rejected": 0, "skipped": 0}
    (row,) = down.waiting()
    assert row.attempts == 1 and "cannot connect" in (row.last_error or "")
    assert before + timedelta(seconds=29) < row.next_attempt_at < now() + timedelta(seconds=31)
    assert down.deliver_due()["retry"] == 0  # not due yet
    for attempts, wait in ((2, 60), (3, 100), (4, 100)):  # doubled, then TICKET_OUTBOX_MAX_BACKOFF
        down.retry(row.ticket_id)  # due now (an operator's --retry; keeps the count)
        assert down.deliver_due()["retry"] == 1
        (row,) = down.waiting()
        assert row.attempts == attempts
        assert now() + timedelta(seconds=wait - 2) < row.next_attempt_at < now() + timedelta(seconds=wait + 1)
        assert row.state == PENDING


def test_an_attempt_is_claimed_once(store: TicketStore, down: TicketDesk) -> None:
    down.open(new_ticket())
    (row,) = down.due(now(), 10)
    other = rt_desk(store, down.backend.base_url.rsplit("REST/2.0/", 1)[0])  # another worker, same database
    assert down._claim(row, now()) is True
    assert other._claim(row, now()) is False  # the same snapshot: already taken
    assert other.due(now(), 10) == []  # leased: not due for the others
    (claimed,) = down.waiting()
    assert claimed.attempts == 1
    assert claimed.next_attempt_at > now() + timedelta(seconds=down.lease_seconds() - 5)


def test_a_comment_waits_for_its_ticket(store: TicketStore, down: TicketDesk) -> None:
    ticket, _ = down.open(new_ticket())
    down.add_comment(ticket.id, "alice", "rest", f"my password is {PASSWORD}", key="c1")
    down.add_comment(ticket.id, "alice", "rest", "again", key="c1")  # the same request: queued once
    rows = down.waiting()
    assert [(r.kind, r.text) for r in rows] == [("create", None), ("comment", "my password is [hidden]")]
    counts = down.deliver_due()
    assert counts["retry"] == 1 and counts["skipped"] == 1  # the comment is not tried before its ticket
    assert [r.attempts for r in down.waiting()] == [1, 0]


def test_a_refusal_stops_the_row_for_an_operator(store: TicketStore) -> None:
    with serving() as server:
        server.responder = lambda record: (403, {"message": "No permission to create tickets in the queue"})
        desk = rt_desk(store, server.url)
        ticket, _ = desk.open(new_ticket())
        assert desk.deliver_due()["rejected"] == 1
        (row,) = desk.waiting()
        assert row.state == REJECTED and row.last_error == "POST ticket: HTTP 403"
        assert desk.deliver_due()["rejected"] == 0  # stays put
        assert desk.view_for_sender(ticket.id, "alice", "rest").status == RECEIVED
        (request,) = [r for r in server.requests if r["method"] == "POST"]
        assert request["path"].endswith("/REST/2.0/ticket")
        assert request["authorization"] == "token 1-2-abc"
        assert PASSWORD not in json_text(request["json"])
        server.responder = lambda record: (503, {"message": "maintenance"})
        assert desk.retry(ticket.id) == 1
        assert desk.deliver_due()["retry"] == 1  # 5xx: transient
        assert desk.waiting()[0].state == PENDING


def json_text(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def test_a_redirect_is_not_followed(store: TicketStore) -> None:
    with serving() as elsewhere, serving() as server:
        server.responder = lambda record: (302, {}, {"Location": elsewhere.url + "/REST/2.0/ticket"})
        desk = rt_desk(store, server.url)
        desk.open(new_ticket())
        assert desk.deliver_due()["retry"] == 1
        assert elsewhere.requests == []
        assert "redirect not followed" in (desk.waiting()[0].last_error or "")


# -- the backend of the settings, the listing, the status answer ----------------------------------
def test_the_factory_picks_the_backend_of_the_settings(store: TicketStore) -> None:
    assert isinstance(make_backend(Settings.from_environ({}), store), BuiltinBackend)
    rt = make_backend(
        Settings.from_environ({"TICKET_BACKEND": "rt", "RT_URL": "https://rt.example.com/rt", "RT_TOKEN": "t"})
    )
    assert isinstance(rt, RTBackend) and rt.base_url == "https://rt.example.com/rt/REST/2.0/"
    assert "t" not in repr(rt).replace("rt", "").replace("https", "")  # no token in its repr


def test_delivered_rows_are_listed_only_on_request(store: TicketStore, down: TicketDesk) -> None:
    ticket, _ = down.open(new_ticket())
    assert [d.state for d in down.deliveries()] == [PENDING]
    assert down.deliveries(states=(DELIVERED,)) == []


def test_a_slow_helpdesk_does_not_hold_the_status_answer(store: TicketStore) -> None:
    with serving() as server:
        server.responder = lambda record: (201, {"id": "7", "type": "ticket"})
        desk = rt_desk(store, server.url, TICKET_STATUS_WAIT="0.5", TICKET_BACKEND_TIMEOUT="5")
        first, _ = desk.open(new_ticket())
        second, _ = desk.open(new_ticket())
        assert desk.deliver_due()["delivered"] == 2
        server.hang = True  # RT takes the request and does not answer
        started = time.monotonic()
        views = desk.views_for_sender("alice", "rest")
        assert time.monotonic() - started < 2.0
        assert [(v.ticket.id, v.status) for v in views] == [(second.id, UNREACHABLE), (first.id, UNREACHABLE)]
        started = time.monotonic()
        assert desk.view_for_sender(first.id, "alice", "rest").status == UNREACHABLE
        assert time.monotonic() - started < 2.0
