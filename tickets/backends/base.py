"""The one ticket-backend interface (issue 16): where a ticket goes after the assistant wrote it locally.

The assistant always writes the ticket to its own database first (the local record: who opened it,
on which channel, the masked form and transcript) and gives the user the local reference
(`ALM-000042`) at once. A backend then *delivers* it: the built-in store (the local record is the
ticket), Request Tracker, Jira Service Management or ServiceNow. The delivery worker
(tickets/outbox.py) calls `create` and retries on `BackendUnavailable`; before re-creating after a
failure whose request may have arrived, it calls `find_by_idempotency_key`, so a ticket is created
exactly once.

Rules every backend follows:
- Synchronous methods (the callers run them in a thread); every network call has a timeout
  (Settings.ticket_backend_timeout_seconds), follows no redirects, and uses credentials that come
  from core.settings only.
- Transient trouble (connection refused/reset, timeout, HTTP 5xx, 429, 408) raises
  `BackendUnavailable`: the outbox retries later with backoff.
- A request the helpdesk will never accept as sent (HTTP 400/401/403/404/409/422 on create: bad
  queue, bad credentials, missing permission) raises `BackendRejected`: the outbox stops retrying
  and shows it in `make tickets ARGS='outbox'` for an operator.
- `RemoteTicketNotFound` when a remote ticket no longer exists (deleted in the helpdesk).
- Text in a `TicketRequest` or `UserComment` is already masked (core.secrets.mask_secrets); a
  backend sends nothing else the user typed. Error messages never include request bodies or
  credentials (they are logged and stored in the outbox).
- Status values are mapped onto the assistant's four: open, in_progress, resolved, closed (see
  `STATUSES`), so the status answers do not change with the backend.

Where the backends live: tickets/backends/<name>.py defines one class constructed from the settings,
`RTBackend(settings)` (rt.py), `JiraBackend(settings)` (jira.py), `ServiceNowBackend(settings)`
(servicenow.py); the built-in store is `BuiltinBackend(store)` (builtin.py). tickets.backends.make_backend
picks one by TICKET_BACKEND. tickets/backends/http.py is a JSON client that does the timeout,
no-redirect and error-mapping rules above.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, List, Optional, Tuple

# The assistant's statuses (tickets.store.STATUSES); every backend maps its own onto these.
# The form of every idempotency key the outbox makes (`ALM-000042-<hash>`): checked before it goes into a URL or query.
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9-]{1,64}")
STATUSES = ("open", "in_progress", "resolved", "closed")
# The assistant's priorities (the guide's severities, core.ticket_draft.priority_for).
PRIORITIES = ("High", "Medium", "Low")
# The assistant's queues (core.ticket_draft): each backend maps them to its own queue/group/desk.
QUEUES = ("postmaster", "support")


class BackendError(RuntimeError):
    """Base of the errors a backend raises. The message is safe to log (no secrets, no user text)."""


class BackendUnavailable(BackendError):
    """Transient: the helpdesk could not be reached or answered 5xx/429/408/timeout. Retry later.

    After this error on `create` the ticket may or may not exist remotely (the request may have
    arrived): the caller checks `find_by_idempotency_key` before trying again.
    """


class BackendRejected(BackendError):
    """Permanent: the helpdesk refused the request as sent (validation, authentication, permission).
    Retrying the same request will not help; an operator must fix the configuration."""


class RemoteTicketNotFound(BackendError):
    """The remote ticket that `RemoteRef` names does not exist (any more) in the helpdesk."""


@dataclass(frozen=True)
class TicketRequest:
    """What a backend needs to create a ticket. All text is masked already.

    idempotency_key: opaque, at most 64 characters of [A-Za-z0-9-], unique per ticket; the backend
        stores it with the remote ticket (a field, a correlation id, or a subject tag) so that
        `find_by_idempotency_key` can find it. It contains no user data.
    reference: the local reference the user was given (`ALM-000042`); show it to staff.
    subject: one line from the problem (e.g. "Forgotten Password"), without the reference.
    body: plain text: the form's fields then the masked transcript (tickets.backends.render).
    fields: the form's fields as (label, value) pairs in display order, for backends that want them
        separately (already contained in `body`).
    priority: one of PRIORITIES; queue: one of QUEUES (mapped by the backend's settings).
    requestor_email: the email the user gave in the form (validated address).
    """

    idempotency_key: str
    reference: str
    subject: str
    body: str
    priority: str
    queue: str
    requestor_email: str
    language: str = "en"
    fields: List[Tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RemoteRef:
    """Where a delivered ticket lives: backend name ("builtin", "rt", "jira", "servicenow"), the
    helpdesk's own id (RT "123", JSM "SD-42", ServiceNow sys_id) and an optional display number
    (ServiceNow "INC0010001", JSM issue key) and URL for staff."""

    backend: str
    remote_id: str
    display_id: Optional[str] = None
    url: Optional[str] = None


@dataclass(frozen=True)
class RemoteReply:
    """The latest public reply from staff to the requestor (never an internal/private note)."""

    created_at: datetime
    author: str
    text: str


@dataclass(frozen=True)
class RemoteStatus:
    """What the status answer shows for a delivered ticket.

    status: one of STATUSES; raw_status: the helpdesk's own word ("new", "Waiting for support", "2").
    updated_at: timezone-aware, the remote ticket's last update (or None when the helpdesk has none).
    latest_reply: the latest public staff reply, None when there is none.
    """

    status: str
    raw_status: str
    updated_at: Optional[datetime]
    latest_reply: Optional[RemoteReply] = None


@dataclass(frozen=True)
class UserComment:
    """A comment from the ticket's owner. `text` is masked; idempotency_key as in TicketRequest
    (unique per comment) so that a retried comment is not posted twice where the backend can check."""

    idempotency_key: str
    text: str
    author_email: str


@dataclass(frozen=True)
class Health:
    """ok: the helpdesk answered an authenticated request in time; detail: short, no secrets."""

    ok: bool
    detail: str
    latency_ms: Optional[float] = None
    extra: Dict[str, str] = field(default_factory=dict)


class TicketBackend(ABC):
    """A helpdesk the assistant opens, follows and updates tickets in. One instance per process;
    methods may be called from several threads at once."""

    #: "builtin", "rt", "jira" or "servicenow" (TICKET_BACKEND)
    name: str = ""

    @abstractmethod
    def create(self, request: TicketRequest) -> RemoteRef:
        """Create the ticket in the helpdesk and return where it lives.

        Must store `request.idempotency_key` with the ticket. Raises BackendUnavailable (transient:
        the caller checks find_by_idempotency_key, then retries) or BackendRejected (permanent).
        """

    @abstractmethod
    def find_by_idempotency_key(self, key: str) -> Optional[RemoteRef]:
        """The ticket created earlier with this idempotency key, or None when there is none.

        Called before re-creating after a failed/timed-out create, so that a request that did arrive
        is not created twice. Raises BackendUnavailable when the helpdesk can't be asked (the caller
        then does not create either).
        """

    @abstractmethod
    def status(self, ref: RemoteRef) -> RemoteStatus:
        """The ticket's status mapped onto STATUSES and the latest public reply to the requestor.

        The caller has already checked ownership locally (which channel and sender opened it); the
        backend only reads. Raises BackendUnavailable or RemoteTicketNotFound.
        """

    @abstractmethod
    def add_comment(self, ref: RemoteRef, comment: UserComment) -> None:
        """Add the owner's comment to the ticket so that staff see it, marked as the requestor's
        (RT: a comment, since correspondence would mail the requestor their own words). It must not
        become the `latest_reply` that `status` returns. Raises BackendUnavailable (retry later),
        BackendRejected or RemoteTicketNotFound."""

    @abstractmethod
    def has_comment(self, ref: RemoteRef, key: str) -> bool:
        """True when a comment with this idempotency key is already on the ticket (checked before
        re-posting a comment whose first attempt failed with BackendUnavailable). A backend that
        cannot tell returns False (the comment may then be posted twice, never lost)."""

    @abstractmethod
    def health(self) -> Health:
        """One cheap authenticated request (e.g. read the configured queue) with the timeout. Never
        raises for helpdesk trouble: returns Health(ok=False, detail=...)."""
