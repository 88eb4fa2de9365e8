"""Ticket backends (issue 16): the built-in store and the helpdesks. See tickets/backends/base.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from core.settings import Settings
from tickets.backends.base import TicketBackend

if TYPE_CHECKING:
    from tickets.store import TicketStore

BACKENDS = ("builtin", "rt", "jira", "servicenow")


def make_backend(settings: Settings, store: Optional["TicketStore"] = None) -> TicketBackend:
    """The backend TICKET_BACKEND names; the built-in one works on `store` (the local ticket store)."""
    name = settings.ticket_backend
    if name == "builtin":
        from tickets.backends.builtin import BuiltinBackend
        from tickets.store import TicketStore

        return BuiltinBackend(store or TicketStore(settings.tickets_database_url()))
    if name == "rt":
        from tickets.backends.rt import RTBackend

        return RTBackend(settings)
    if name == "jira":
        from tickets.backends.jira import JiraBackend

        return JiraBackend(settings)
    if name == "servicenow":
        from tickets.backends.servicenow import ServiceNowBackend

        return ServiceNowBackend(settings)
    raise ValueError(f"unknown TICKET_BACKEND {name!r}; one of {', '.join(BACKENDS)}")
