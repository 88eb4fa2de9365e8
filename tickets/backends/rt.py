"""Request Tracker 5 through its REST2 API (TICKET_BACKEND=rt; README, Ticket backends).

- create: `POST /REST/2.0/ticket` in RT_QUEUE (RT_QUEUE_POSTMASTER for the postmaster queue) with the
  requestor's email, the problem as subject, tagged `[<idempotency key>]`, the form's fields and the
  masked transcript as the text/plain content, and the priority mapped by RT_PRIORITIES.
- find_by_idempotency_key: TicketSQL `Subject LIKE '<key>'` (the key is [A-Za-z0-9-] only).
- status: `GET /ticket/<id>` (RT's lifecycle mapped onto ours) and the latest `Correspond`
  transaction that the requestor did not write (staff's public reply), read from the history.
- add_comment: `POST /ticket/<id>/comment` (a comment: staff see it, the requestor is not mailed
  their own words), its subject tagged with the comment's key, which has_comment looks for.
- health: `GET /queue/<RT_QUEUE>` (the credentials work and the queue is visible).

Authentication: `Authorization: token <RT_TOKEN>` when set, else basic auth RT_USER/RT_PASSWORD.
Every call: TICKET_BACKEND_TIMEOUT, no redirects, TLS verified (tickets/backends/http.py).
"""

from __future__ import annotations

import html
import re
import time
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote

from core.knowledge import knowledge
from core.phrases import say
from core.secrets import mask_secrets
from core.settings import Settings
from tickets.backends.base import (
    IDEMPOTENCY_KEY,
    BackendError,
    BackendRejected,
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
from tickets.backends.http import JsonClient

# RT's default lifecycle → the assistant's statuses.
STATUS_MAP = {
    "new": "open",
    "open": "in_progress",
    "stalled": "in_progress",
    "resolved": "resolved",
    "rejected": "closed",
    "deleted": "closed",
}
MAX_REPLY = 1000  # characters of a staff reply shown in chat
HISTORY_PAGE = 100


class _Text(HTMLParser):
    """HTML (RT's rich-text editor) → plain text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: List[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(value: str) -> str:
    parser = _Text()
    parser.feed(value)
    parser.close()
    return html.unescape("".join(parser.parts))


def _time(value: Any) -> Optional[datetime]:
    if not isinstance(value, str) or not value or value.startswith("1970-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _user_id(value: Any) -> str:
    return str(value.get("id", "")) if isinstance(value, dict) else str(value or "")


class RTBackend(TicketBackend):
    name = "rt"

    def __init__(self, settings: Settings) -> None:
        if not settings.rt_url:
            raise ValueError("RT_URL is not set")
        self.settings = settings
        self.rt_url: str = settings.rt_url
        self.base_url = settings.rt_url + "REST/2.0/"
        headers: Dict[str, str] = {}
        auth: Optional[Tuple[str, str]] = None
        if settings.rt_token:
            headers["Authorization"] = f"token {settings.rt_token}"
        elif settings.rt_user and settings.rt_password:
            auth = (settings.rt_user, settings.rt_password)
        self.client = JsonClient(self.base_url, settings.ticket_backend_timeout, headers=headers, auth=auth)
        self.priorities = settings.rt_priority_map()

    def __repr__(self) -> str:  # no credentials
        return f"RTBackend({self.base_url!r}, queue={self.settings.rt_queue!r})"

    # -- helpers ------------------------------------------------------------------------------
    def queue_for(self, queue: str) -> str:
        if queue == "postmaster" and self.settings.rt_queue_postmaster:
            return self.settings.rt_queue_postmaster
        return self.settings.rt_queue

    def ref(self, remote_id: str) -> RemoteRef:
        return RemoteRef(self.name, remote_id, f"RT #{remote_id}", self.rt_url + f"Ticket/Display.html?id={remote_id}")

    @staticmethod
    def _ticket_path(ref: RemoteRef) -> str:
        if not ref.remote_id.isdigit():
            raise RemoteTicketNotFound(f"not an RT ticket id: {ref.remote_id[:20]!r}")
        return f"ticket/{ref.remote_id}"

    # -- the interface ------------------------------------------------------------------------
    def create(self, request: TicketRequest) -> RemoteRef:
        if not IDEMPOTENCY_KEY.fullmatch(request.idempotency_key):
            raise BackendRejected("idempotency key must be [A-Za-z0-9-], at most 64 characters")
        payload = {
            "Queue": self.queue_for(request.queue),
            "Subject": f"{request.subject} [{request.idempotency_key}]",
            "Requestor": request.requestor_email,
            "Content": mask_secrets(request.body),
            "ContentType": "text/plain",
            "Priority": self.priorities.get(request.priority, self.priorities["Medium"]),
        }
        status, body = self.client.request("POST", "ticket", json=payload)
        remote_id = str(body.get("id", "")) if isinstance(body, dict) else ""
        if status != 201 or not remote_id.isdigit():
            raise BackendUnavailable(f"POST ticket: unexpected answer HTTP {status}")
        return self.ref(remote_id)

    def find_by_idempotency_key(self, key: str) -> Optional[RemoteRef]:
        if not IDEMPOTENCY_KEY.fullmatch(key):
            return None
        query = f"Subject LIKE '{key}'"
        _, body = self.client.request("GET", "tickets", params={"query": query, "fields": "Subject", "per_page": 20})
        items = body.get("items", []) if isinstance(body, dict) else []
        tag = f"[{key}]"
        matches = sorted(
            (
                int(item["id"])
                for item in items
                if str(item.get("id", "")).isdigit() and tag in str(item.get("Subject", ""))
            ),
        )
        return self.ref(str(matches[0])) if matches else None

    def status(self, ref: RemoteRef) -> RemoteStatus:
        path = self._ticket_path(ref)
        status, ticket = self.client.request("GET", path, allow=(404,))
        if status == 404 or not isinstance(ticket, dict):
            raise RemoteTicketNotFound(f"RT ticket {ref.remote_id}")
        raw = str(ticket.get("Status", ""))
        requestors = {_user_id(user).lower() for user in ticket.get("Requestor", []) or []}
        return RemoteStatus(
            status=STATUS_MAP.get(raw.lower(), "in_progress"),  # a custom lifecycle's active status
            raw_status=raw,
            updated_at=_time(ticket.get("LastUpdated")),
            latest_reply=self._latest_reply(path, requestors),
        )

    def _history(self, path: str) -> List[Dict[str, Any]]:
        """The ticket's transactions, the last page (the newest) first read: newest last."""
        params = {"fields": "Type,Created,Creator,Data", "per_page": HISTORY_PAGE}
        _, first = self.client.request("GET", f"{path}/history", params={**params, "page": 1})
        if not isinstance(first, dict):
            return []
        pages = int(first.get("pages") or 1)
        items = list(first.get("items") or [])
        if pages > 1:
            _, last = self.client.request("GET", f"{path}/history", params={**params, "page": pages})
            if isinstance(last, dict):
                previous: List[Dict[str, Any]] = []
                if pages > 2:  # the newest page may hold only a few: take the one before it too
                    _, before = self.client.request("GET", f"{path}/history", params={**params, "page": pages - 1})
                    previous = list(before.get("items") or []) if isinstance(before, dict) else []
                items = previous + list(last.get("items") or [])
        return items

    def _latest_reply(self, path: str, requestors: set) -> Optional[RemoteReply]:
        for item in reversed(self._history(path)):
            if item.get("Type") != "Correspond":
                continue
            author = _user_id(item.get("Creator"))
            if author.lower() in requestors:
                continue  # the requestor's own mail, not a reply from staff
            text = self._transaction_text(str(item.get("id", "")))
            if text:
                created = _time(item.get("Created")) or datetime.now(timezone.utc)
                return RemoteReply(created, author, text)
        return None

    def _transaction_text(self, transaction_id: str) -> str:
        if not transaction_id.isdigit():
            return ""
        _, body = self.client.request(
            "GET", f"transaction/{transaction_id}/attachments", params={"fields": "Content,ContentType"}
        )
        items = body.get("items", []) if isinstance(body, dict) else []
        plain = [i for i in items if str(i.get("ContentType", "")).startswith("text/plain") and i.get("Content")]
        rich = [i for i in items if str(i.get("ContentType", "")).startswith("text/html") and i.get("Content")]
        if plain:
            text = str(plain[0]["Content"])
        elif rich:
            text = html_to_text(str(rich[0]["Content"]))
        else:
            return ""
        text = re.sub(r"\n{3,}", "\n\n", text.replace("\r\n", "\n")).strip()
        if len(text) > MAX_REPLY:
            text = text[: MAX_REPLY - 1].rstrip() + "…"
        return mask_secrets(text)

    def add_comment(self, ref: RemoteRef, comment: UserComment) -> None:
        path = self._ticket_path(ref)
        lang = knowledge().default_language if self.settings.staff_language is None else self.settings.staff_language
        if lang not in knowledge().languages:
            lang = knowledge().default_language
        subject = f"{say('staff_user_comment', lang)} [{comment.idempotency_key}]"
        payload = {"Subject": subject, "Content": mask_secrets(comment.text), "ContentType": "text/plain"}
        status, _ = self.client.request("POST", f"{path}/comment", json=payload, allow=(404,))
        if status == 404:
            raise RemoteTicketNotFound(f"RT ticket {ref.remote_id}")

    def has_comment(self, ref: RemoteRef, key: str) -> bool:
        tag = f"[{key}]"
        return any(
            item.get("Type") == "Comment" and tag in str(item.get("Data", ""))
            for item in self._history(self._ticket_path(ref))
        )

    def health(self) -> Health:
        started = time.monotonic()
        try:
            status, body = self.client.request("GET", f"queue/{quote(self.settings.rt_queue, safe='')}", allow=(404,))
        except BackendError as error:
            return Health(False, f"RT: {error}")
        latency = (time.monotonic() - started) * 1000
        if status == 404 or not isinstance(body, dict):
            return Health(False, f"RT: queue {self.settings.rt_queue!r} not found or not visible", latency)
        return Health(True, f"RT answers; queue {body.get('Name', self.settings.rt_queue)!r} visible", latency)
