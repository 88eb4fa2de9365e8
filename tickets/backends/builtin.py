"""The built-in backend: the assistant's own SQL store (tickets/store.py) is the helpdesk.

The local record written by TicketDesk.open *is* the ticket, so `create` only finds it; staff work it
with `make tickets` or the ticket API, and staff notifications (TICKET_WEBHOOK_URL) are sent for it.
"""

from __future__ import annotations

import time
from typing import Optional

from sqlalchemy.exc import SQLAlchemyError

from tickets.backends.base import (
    BackendUnavailable,
    Health,
    RemoteRef,
    RemoteReply,
    RemoteStatus,
    RemoteTicketNotFound,
    TicketBackend,
    TicketRequest,
    UserComment,
)
from tickets.store import USER_AUTHOR, StoreUnavailable, Ticket, TicketNotFound, TicketStore


class BuiltinBackend(TicketBackend):
    name = "builtin"

    def __init__(self, store: TicketStore) -> None:
        self.store = store

    def _ticket(self, ticket_id: str) -> Ticket:
        try:
            return self.store.get(ticket_id)
        except TicketNotFound as error:
            raise RemoteTicketNotFound(ticket_id) from error
        except StoreUnavailable as error:
            raise BackendUnavailable("the ticket database is unavailable") from error

    def create(self, request: TicketRequest) -> RemoteRef:
        """The local ticket `request.reference` already is the ticket."""
        ticket = self._ticket(request.reference)
        return RemoteRef(self.name, ticket.id, ticket.id)

    def find_by_idempotency_key(self, key: str) -> Optional[RemoteRef]:
        # Keys are "<local id>-<digest>" (tickets.store.remote_key): the local ticket, if it exists.
        reference = key.rsplit("-", 1)[0] if key.count("-") >= 2 else key
        try:
            ticket = self.store.get(reference)
        except TicketNotFound:
            return None
        except StoreUnavailable as error:
            raise BackendUnavailable("the ticket database is unavailable") from error
        return RemoteRef(self.name, ticket.id, ticket.id)

    def status(self, ref: RemoteRef) -> RemoteStatus:
        ticket = self._ticket(ref.remote_id)
        latest = ticket.latest_comment()
        reply = RemoteReply(latest.created_at, latest.author, latest.detail) if latest else None
        return RemoteStatus(ticket.status, ticket.status, ticket.updated_at, reply)

    def add_comment(self, ref: RemoteRef, comment: UserComment) -> None:
        try:
            self.store.user_comment(ref.remote_id, comment.text)
        except TicketNotFound as error:
            raise RemoteTicketNotFound(ref.remote_id) from error
        except StoreUnavailable as error:
            raise BackendUnavailable("the ticket database is unavailable") from error

    def has_comment(self, ref: RemoteRef, key: str) -> bool:
        # Built-in comments are written in one local transaction (never retried): nothing to check.
        return False

    def health(self) -> Health:
        started = time.monotonic()
        try:
            self.store.ping()
        except SQLAlchemyError as error:
            return Health(False, f"ticket database: {type(error).__name__}")
        return Health(True, "ticket database answers", (time.monotonic() - started) * 1000)


__all__ = ["BuiltinBackend", "USER_AUTHOR"]
