"""Tickets through any backend (issue 16): written locally first, delivered from an outbox, owned locally.

    desk = TicketDesk(store, backend, settings)
    ticket, created = desk.open(new)             # stored (and queued) in one transaction; the user gets ticket.id
    desk.deliver_due()                           # the delivery worker: send what is due, retry with backoff
    desk.views_for_sender(sender_id, channel)    # status answers: only this sender's tickets on this channel

The local ticket (tickets/store.py) is always written first: it is the record of who opened what
(channel, sender), of the form and of the masked transcript, and its id (`ALM-000042`) is the
reference the user gets at once. With the built-in backend it *is* the ticket. With a helpdesk
(TICKET_BACKEND=rt|jira|servicenow) the same transaction puts a `create` row in `ticket_outbox`;
the delivery worker sends it, and records where it landed in `ticket_remote`. What the helpdesk
receives is built in tickets/helpdesk_request.py; the worker's thread is in tickets/delivery_worker.py.

Exactly once: a delivery attempt is claimed first (attempts + 1, and a lease: no other worker takes
it until the lease ends). An attempt after an earlier one (which may have reached the helpdesk
although we saw a timeout, or whose worker died) first asks the helpdesk
`find_by_idempotency_key` and creates only when it finds nothing. BackendUnavailable → retry after
TICKET_OUTBOX_BACKOFF seconds, doubled after each failure up to TICKET_OUTBOX_MAX_BACKOFF, for as
long as it takes; BackendRejected → the row stops as `rejected` (an operator fixes the
configuration and runs `make tickets ARGS='outbox --retry ALM-…'`). User comments go the same way,
after their ticket.

Until a ticket is delivered the status answer says "received, not yet in the helpdesk"; after,
the helpdesk's status and latest public reply, for tickets this sender opened on this channel only
(ownership is checked here, never left to the helpdesk).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from core.secrets import mask_secrets
from core.settings import Settings, get_settings
from tickets.backends.base import (
    BackendError,
    BackendRejected,
    BackendUnavailable,
    RemoteRef,
    RemoteTicketNotFound,
    TicketBackend,
    UserComment,
)
from tickets.helpdesk_request import ticket_request
from tickets.schema import ticket_outbox, ticket_remote
from tickets.store import (
    MAX_COMMENT,
    InvalidChange,
    NewTicket,
    StoreUnavailable,
    Ticket,
    TicketNotFound,
    TicketStore,
    as_utc,
    format_id,
    now,
    parse_id,
    remote_key,
)

logger = logging.getLogger("tickets.outbox")

PENDING, DELIVERED, REJECTED = "pending", "delivered", "rejected"
# A view's status besides the four ticket statuses: stored here, not yet in the helpdesk.
RECEIVED = "received"
UNREACHABLE = "helpdesk_unreachable"
MAX_ERROR = 500  # characters of last_error kept


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Wait after the `attempts`-th failed attempt: base, 2·base, 4·base, … never more than cap."""
    if attempts <= 0:
        return 0.0
    return float(min(cap, base * (2 ** min(attempts - 1, 60))))


@dataclass
class Delivery:
    """One outbox row."""

    id: int
    ticket_number: int
    kind: str
    backend: str
    idempotency_key: str
    text: Optional[str]
    author_email: Optional[str]
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: Optional[str]
    created_at: datetime
    delivered_at: Optional[datetime]

    @property
    def ticket_id(self) -> str:
        return format_id(self.ticket_number)


@dataclass
class TicketView:
    """What the status answer shows for one ticket: the same whatever the backend.

    status: one of the ticket statuses, RECEIVED (waiting in the outbox) or UNREACHABLE (delivered,
    but the helpdesk can't be read now); latest_reply: the latest public note from staff.
    """

    ticket: Ticket
    status: str
    updated_at: datetime
    latest_reply: Optional[str]
    remote: Optional[RemoteRef] = None


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row["id"],
        ticket_number=row["ticket_number"],
        kind=row["kind"],
        backend=row["backend"],
        idempotency_key=row["idempotency_key"],
        text=row["text"],
        author_email=row["author_email"],
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=as_utc(row["next_attempt_at"]),
        last_error=row["last_error"],
        created_at=as_utc(row["created_at"]),
        delivered_at=as_utc(row["delivered_at"]),
    )


# -- the desk -----------------------------------------------------------------------------------
class TicketDesk:
    """The local ticket store and a backend together. Every method may raise StoreUnavailable (the
    local database); helpdesk trouble never reaches the caller of open/views/comment."""

    def __init__(self, store: TicketStore, backend: TicketBackend, settings: Optional[Settings] = None) -> None:
        self.store = store
        self.backend = backend
        self.settings = settings or get_settings()
        self.kick = threading.Event()  # set when something new waits: the worker wakes at once

    @property
    def builtin(self) -> bool:
        return self.backend.name == "builtin"

    # -- the conversation's side --------------------------------------------------------------
    def open(self, new: NewTicket) -> Tuple[Ticket, bool]:
        """Store the ticket (and, with a helpdesk, queue it in the same transaction); (ticket, created)."""
        ticket, created = self.store.create(new, deliver_to=None if self.builtin else self.backend.name)
        if created and not self.builtin:
            self.kick.set()
        return ticket, created

    def views_for_sender(self, sender_id: str, channel: str, limit: int = 10) -> List[TicketView]:
        """This sender's tickets on this channel, newest first (at most `limit`)."""
        return self._views(self.store.list_for_sender(sender_id, channel)[:limit])

    def view_for_sender(self, ticket_id: str, sender_id: str, channel: str) -> TicketView:
        """TicketNotFound unless this sender opened it on this channel (whatever the helpdesk would show)."""
        return self._views([self.store.get_for_sender(ticket_id, sender_id, channel)])[0]

    def _views(self, found: List[Ticket]) -> List[TicketView]:
        """The views, the helpdesk asked for all of them at once; past TICKET_STATUS_WAIT seconds a
        ticket not read yet is shown as UNREACHABLE (the answer must come within the action's time)."""
        if self.builtin or not found:
            return [self._view(ticket) for ticket in found]
        pool = ThreadPoolExecutor(max_workers=min(len(found), 5), thread_name_prefix="ticket-status")
        try:
            futures = [pool.submit(self._view, ticket) for ticket in found]
            deadline = time.monotonic() + self.settings.ticket_status_wait
            views = []
            for ticket, future in zip(found, futures):
                try:
                    views.append(future.result(timeout=max(0.0, deadline - time.monotonic())))
                except FutureTimeout:
                    logger.warning("status of %s: no answer within TICKET_STATUS_WAIT", ticket.id)
                    views.append(TicketView(ticket, UNREACHABLE, ticket.updated_at, None, None))
            return views
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # late answers are dropped (each call has its timeout)

    def add_comment(self, ticket_id: str, sender_id: str, channel: str, text: str, key: str) -> None:
        """A comment from the ticket's owner: InvalidChange (empty/too long), TicketNotFound (not theirs).
        Built-in: recorded at once; a helpdesk: queued (`key` makes a repeated request count once)."""
        ticket = self.store.get_for_sender(ticket_id, sender_id, channel)
        note = mask_secrets(text.strip())
        if not note or len(note) > MAX_COMMENT or "\x00" in note:
            raise InvalidChange(f"a comment is 1 to {MAX_COMMENT} characters")
        if self.builtin:
            self.store.user_comment(ticket.id, note)
            return
        stamp = now()
        try:
            with self.store.engine.begin() as connection:
                connection.execute(
                    ticket_outbox.insert().values(
                        ticket_number=ticket.number,
                        kind="comment",
                        backend=self.backend.name,
                        idempotency_key=remote_key(ticket.number, f"comment:{key}"),
                        text=note,
                        author_email=ticket.contact_email,
                        state=PENDING,
                        attempts=0,
                        next_attempt_at=stamp,
                        created_at=stamp,
                    )
                )
        except IntegrityError:
            return  # the same comment again: already queued
        except SQLAlchemyError as error:
            raise StoreUnavailable(str(error)) from error
        self.kick.set()

    # -- what the status answer shows ---------------------------------------------------------
    def remote_ref(self, number: int) -> Optional[RemoteRef]:
        self.store.ensure_schema()
        try:
            with self.store.engine.connect() as connection:
                row = (
                    connection.execute(select(ticket_remote).where(ticket_remote.c.ticket_number == number))
                    .mappings()
                    .first()
                )
        except SQLAlchemyError as error:
            raise StoreUnavailable(str(error)) from error
        if row is None:
            return None
        return RemoteRef(row["backend"], row["remote_id"], row["display_id"], row["url"])

    def _view(self, ticket: Ticket) -> TicketView:
        latest = ticket.latest_comment()
        local = TicketView(ticket, ticket.status, ticket.updated_at, latest.detail if latest else None)
        ref = self.remote_ref(ticket.number)
        if ref is None:
            waiting = self.deliveries(ticket_number=ticket.number, kinds=("create",))
            if not waiting:
                return local  # a built-in ticket (also one opened before a helpdesk was configured)
            return TicketView(ticket, RECEIVED, ticket.updated_at, None)
        if ref.backend != self.backend.name:
            # Delivered to a helpdesk no longer configured: we can't read it any more.
            return TicketView(ticket, UNREACHABLE, ticket.updated_at, None, ref)
        try:
            remote = self.backend.status(ref)
        except (BackendUnavailable, RemoteTicketNotFound, BackendRejected) as error:
            logger.warning("status of %s in %s unavailable: %s", ticket.id, ref.backend, error)
            return TicketView(ticket, UNREACHABLE, ticket.updated_at, None, ref)
        reply = remote.latest_reply.text if remote.latest_reply else None
        return TicketView(ticket, remote.status, remote.updated_at or ticket.updated_at, reply, ref)

    # -- the outbox -----------------------------------------------------------------------------
    def deliveries(
        self,
        states: Tuple[str, ...] = (PENDING, REJECTED, DELIVERED),
        ticket_number: Optional[int] = None,
        kinds: Tuple[str, ...] = ("create", "comment"),
        limit: int = 1000,
    ) -> List[Delivery]:
        """Outbox rows in these states, oldest first."""
        self.store.ensure_schema()
        query = select(ticket_outbox).where(ticket_outbox.c.state.in_(states), ticket_outbox.c.kind.in_(kinds))
        if ticket_number is not None:
            query = query.where(ticket_outbox.c.ticket_number == ticket_number)
        try:
            with self.store.engine.connect() as connection:
                rows = connection.execute(query.order_by(ticket_outbox.c.id).limit(limit)).mappings().all()
        except SQLAlchemyError as error:
            raise StoreUnavailable(str(error)) from error
        return [_delivery(row) for row in rows]

    def waiting(self) -> List[Delivery]:
        """What has not reached the helpdesk: pending and rejected rows (`make tickets ARGS='outbox'`)."""
        return self.deliveries(states=(PENDING, REJECTED))

    def retry(self, ticket_id: str) -> int:
        """Make a ticket's rejected (or waiting) rows due now, attempts kept; the number of rows changed."""
        number = parse_id(ticket_id)
        if number is None:
            raise TicketNotFound(ticket_id)
        self.store.ensure_schema()
        try:
            with self.store.engine.begin() as connection:
                result = connection.execute(
                    update(ticket_outbox)
                    .where(ticket_outbox.c.ticket_number == number, ticket_outbox.c.state.in_((PENDING, REJECTED)))
                    .values(state=PENDING, next_attempt_at=now())
                )
        except SQLAlchemyError as error:
            raise StoreUnavailable(str(error)) from error
        self.kick.set()
        return int(result.rowcount or 0)

    def lease_seconds(self) -> float:
        """How long a claimed attempt keeps others off: two calls with their timeout, and a margin."""
        return 2 * self.settings.ticket_backend_timeout + 30.0

    def _claim(self, delivery: Delivery, stamp: datetime) -> bool:
        """Take the row for one attempt (attempts + 1, due again only after the lease); False when another
        worker took it first."""
        try:
            with self.store.engine.begin() as connection:
                result = connection.execute(
                    update(ticket_outbox)
                    .where(
                        ticket_outbox.c.id == delivery.id,
                        ticket_outbox.c.state == PENDING,
                        ticket_outbox.c.attempts == delivery.attempts,
                    )
                    .values(
                        attempts=delivery.attempts + 1,
                        next_attempt_at=stamp + timedelta(seconds=self.lease_seconds()),
                    )
                )
        except SQLAlchemyError as error:
            raise StoreUnavailable(str(error)) from error
        return result.rowcount == 1

    def _finish(self, delivery: Delivery, values: Dict[str, Any], remote: Optional[RemoteRef] = None) -> None:
        try:
            with self.store.engine.begin() as connection:
                if remote is not None:
                    exists = connection.execute(
                        select(ticket_remote.c.ticket_number).where(
                            ticket_remote.c.ticket_number == delivery.ticket_number
                        )
                    ).first()
                    if exists is None:
                        connection.execute(
                            ticket_remote.insert().values(
                                ticket_number=delivery.ticket_number,
                                backend=remote.backend,
                                remote_id=remote.remote_id,
                                display_id=remote.display_id,
                                url=remote.url,
                                delivered_at=now(),
                            )
                        )
                connection.execute(update(ticket_outbox).where(ticket_outbox.c.id == delivery.id).values(**values))
        except SQLAlchemyError as error:
            raise StoreUnavailable(str(error)) from error

    def due(self, stamp: datetime, limit: int) -> List[Delivery]:
        self.store.ensure_schema()
        query = (
            select(ticket_outbox)
            .where(
                ticket_outbox.c.state == PENDING,
                ticket_outbox.c.next_attempt_at <= stamp,
                ticket_outbox.c.backend == self.backend.name,
            )
            .order_by(ticket_outbox.c.id)
            .limit(limit)
        )
        try:
            with self.store.engine.connect() as connection:
                rows = connection.execute(query).mappings().all()
        except SQLAlchemyError as error:
            raise StoreUnavailable(str(error)) from error
        # Tickets before comments (a comment needs its ticket), each in the order it was queued.
        return sorted((_delivery(row) for row in rows), key=lambda d: (d.kind != "create", d.id))

    def deliver_due(self, limit: int = 50) -> Dict[str, int]:
        """One pass of the delivery worker: try every due row once. Counts by outcome."""
        counts = {"delivered": 0, "retry": 0, "rejected": 0, "skipped": 0}
        if self.builtin:
            return counts
        stamp = now()
        for delivery in self.due(stamp, limit):
            outcome = self._deliver(delivery)
            counts[outcome] += 1
        return counts

    def _deliver(self, delivery: Delivery) -> str:
        ref = self.remote_ref(delivery.ticket_number) if delivery.kind == "comment" else None
        if delivery.kind == "comment" and ref is None:
            return "skipped"  # its ticket is not in the helpdesk yet: not an attempt
        stamp = now()
        if not self._claim(delivery, stamp):
            return "skipped"
        try:
            if delivery.kind == "create":
                ref = self._create_once(delivery)
            else:
                assert ref is not None
                self._comment_once(delivery, ref)
        except (BackendRejected, RemoteTicketNotFound, InvalidChange, TicketNotFound) as error:
            logger.error("%s of %s rejected by %s: %s", delivery.kind, delivery.ticket_id, delivery.backend, error)
            self._finish(delivery, {"state": REJECTED, "last_error": str(error)[:MAX_ERROR]})
            return "rejected"
        except BackendError as error:  # BackendUnavailable, or any other backend trouble: retry later
            attempts = delivery.attempts + 1
            wait = backoff_seconds(
                attempts, self.settings.ticket_outbox_backoff, self.settings.ticket_outbox_max_backoff
            )
            logger.warning(
                "%s of %s not delivered (attempt %d, next in %.0f s): %s",
                delivery.kind,
                delivery.ticket_id,
                attempts,
                wait,
                error,
            )
            self._finish(
                delivery, {"next_attempt_at": now() + timedelta(seconds=wait), "last_error": str(error)[:MAX_ERROR]}
            )
            return "retry"
        self._finish(delivery, {"state": DELIVERED, "delivered_at": now(), "last_error": None}, remote=ref)
        logger.info("%s of %s delivered to %s", delivery.kind, delivery.ticket_id, delivery.backend)
        return "delivered"

    def _create_once(self, delivery: Delivery) -> RemoteRef:
        if delivery.attempts > 0:
            # An earlier attempt may have arrived (a timeout after the helpdesk stored it, or a worker
            # that died): look before creating.
            found = self.backend.find_by_idempotency_key(delivery.idempotency_key)
            if found is not None:
                return found
        ticket = self.store.get(format_id(delivery.ticket_number))
        return self.backend.create(ticket_request(ticket, delivery.idempotency_key, self.settings))

    def _comment_once(self, delivery: Delivery, ref: RemoteRef) -> None:
        if delivery.attempts > 0 and self.backend.has_comment(ref, delivery.idempotency_key):
            return
        comment = UserComment(delivery.idempotency_key, delivery.text or "", delivery.author_email or "")
        self.backend.add_comment(ref, comment)
