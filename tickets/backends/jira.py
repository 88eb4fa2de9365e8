"""Jira Service Management (Cloud) as the ticket backend: customer requests through the Service Desk REST API.

    TICKET_BACKEND=jira JIRA_URL=https://example.atlassian.net JIRA_EMAIL=… JIRA_API_TOKEN=…
    JIRA_SERVICE_DESK_ID=1 JIRA_REQUEST_TYPE_ID=10

What it calls (Atlassian's reference: https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/):

- create: POST rest/servicedeskapi/request {serviceDeskId, requestTypeId, requestFieldValues: {summary,
  description, priority}}. The summary is the problem and the local reference (`Forgotten Password
  [ALM-000042]`); the description is the form's fields and the masked transcript, ending with the
  line `Assistant key: <idempotency key>`.
- find_by_idempotency_key: GET rest/servicedeskapi/request?requestOwnership=OWNED_REQUESTS&serviceDeskId=…
  (the requests the assistant's account created, most recently active first), pages of 50, at most
  FIND_PAGES of them, looking for that exact last line. A request created long ago and buried under
  more than FIND_PAGES×50 more active ones is not found (then it would be created twice, never lost).
- status: GET rest/servicedeskapi/request/{key} (`currentStatus`: its statusCategory NEW → open,
  INDETERMINATE → in_progress, DONE → resolved) and GET …/{key}/comment?public=true&internal=false:
  the latest public comment not written by the assistant's own account (GET rest/api/3/myself).
- add_comment: POST …/{key}/comment {body, public: true}; the body ends with `Assistant comment key: <key>`
  so that has_comment can tell whether a retried comment already arrived.
- health: GET rest/servicedeskapi/servicedesk/{JIRA_SERVICE_DESK_ID}.

Authentication: basic auth with the account's email address and an API token. The account can be a
portal-only customer of the service desk: creating requests, reading its own requests and their
public comments, and commenting publicly is all it does.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from core.settings import Settings
from tickets.backends.base import (
    IDEMPOTENCY_KEY,
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
from tickets.backends.text import cut, one_line

API = "rest/servicedeskapi/"
SUMMARY_MAX = 255  # Jira's summary field
TEXT_MAX = 32767  # Jira's text fields (description, comment body)
PAGE = 50
FIND_PAGES = 4  # find_by_idempotency_key looks at the 200 most recently active requests of the account
COMMENT_PAGES = 20  # status reads at most 1000 public comments
KEY_LINE = "Assistant key: "
COMMENT_KEY_LINE = "Assistant comment key: "
ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,49}-[0-9]{1,18}")
CATEGORY_STATUS = {"NEW": "open", "INDETERMINATE": "in_progress", "DONE": "resolved"}
JIRA_PRIORITIES = {"High": "High", "Medium": "Medium", "Low": "Low"}  # the default priority scheme's names


def ends_with_line(text: Any, last: str) -> bool:
    return isinstance(text, str) and text.rstrip().splitlines()[-1:] == [last]


def _when(value: Any) -> Optional[datetime]:
    """A JSM date object ({epochMillis, iso8601, …}) as an aware datetime; None when absent."""
    if isinstance(value, dict) and isinstance(value.get("epochMillis"), (int, float)):
        return datetime.fromtimestamp(value["epochMillis"] / 1000, timezone.utc)
    return None


class JiraBackend(TicketBackend):
    name = "jira"

    def __init__(self, settings: Settings) -> None:
        if not (settings.jira_url and settings.jira_email and settings.jira_api_token):
            raise ValueError("TICKET_BACKEND=jira needs JIRA_URL, JIRA_EMAIL and JIRA_API_TOKEN")
        if not (settings.jira_service_desk_id and settings.jira_request_type_id):
            raise ValueError("TICKET_BACKEND=jira needs JIRA_SERVICE_DESK_ID and JIRA_REQUEST_TYPE_ID")
        self.base_url = settings.jira_url
        self.service_desk_id = settings.jira_service_desk_id
        self.request_types = {
            "support": settings.jira_request_type_id,
            "postmaster": settings.jira_request_type_id_postmaster or settings.jira_request_type_id,
        }
        self.send_priority = settings.jira_send_priority
        self.client = JsonClient(
            settings.jira_url,
            timeout=settings.ticket_backend_timeout,
            auth=(settings.jira_email, settings.jira_api_token),
        )
        self._account_id: Optional[str] = None
        self._lock = threading.Lock()

    # -- the interface ---------------------------------------------------------------------------
    def create(self, request: TicketRequest) -> RemoteRef:
        if not IDEMPOTENCY_KEY.fullmatch(request.idempotency_key):
            raise BackendRejected("create: the idempotency key is not [A-Za-z0-9-]{1,64}")
        values: Dict[str, Any] = {
            "summary": one_line(f"{request.subject} [{request.reference}]", SUMMARY_MAX),
            "description": cut(request.body, TEXT_MAX, KEY_LINE + request.idempotency_key),
        }
        if self.send_priority:
            values["priority"] = {"name": JIRA_PRIORITIES.get(request.priority, "Medium")}
        payload = {
            "serviceDeskId": self.service_desk_id,
            "requestTypeId": self.request_types.get(request.queue, self.request_types["support"]),
            "requestFieldValues": values,
        }
        _, body = self.client.request("POST", API + "request", json=payload)
        ref = self._ref(body)
        if ref is None:
            raise BackendUnavailable("POST request: the answer has no issue key")
        return ref

    def find_by_idempotency_key(self, key: str) -> Optional[RemoteRef]:
        if not IDEMPOTENCY_KEY.fullmatch(key):
            return None
        line = KEY_LINE + key
        for page in range(FIND_PAGES):
            params = {
                "requestOwnership": "OWNED_REQUESTS",
                "requestStatus": "ALL_REQUESTS",
                "serviceDeskId": self.service_desk_id,
                "start": str(page * PAGE),
                "limit": str(PAGE),
            }
            _, body = self.client.request("GET", API + "request", params=params)
            values = body.get("values") if isinstance(body, dict) else None
            if not isinstance(values, list):
                raise BackendUnavailable("GET request: the answer has no list of requests")
            for item in values:
                if isinstance(item, dict) and ends_with_line(self._field(item, "description"), line):
                    return self._ref(item)
            if body.get("isLastPage", True) or not values:
                return None
        return None

    def status(self, ref: RemoteRef) -> RemoteStatus:
        key = self._key(ref)
        status, body = self.client.request("GET", API + f"request/{key}", allow=(404,))
        if status == 404 or not isinstance(body, dict):
            raise RemoteTicketNotFound(f"JSM request {key} not found")
        found = body.get("currentStatus")
        current: Dict[str, Any] = found if isinstance(found, dict) else {}
        raw = str(current.get("status") or "")
        mapped = CATEGORY_STATUS.get(str(current.get("statusCategory") or "").upper(), "open")
        reply = self._latest_reply(key)
        updated = _when(current.get("statusDate"))
        if reply is not None and (updated is None or reply.created_at > updated):
            updated = reply.created_at
        return RemoteStatus(status=mapped, raw_status=raw, updated_at=updated, latest_reply=reply)

    def add_comment(self, ref: RemoteRef, comment: UserComment) -> None:
        key = self._key(ref)
        text = cut(comment.text, TEXT_MAX, COMMENT_KEY_LINE + comment.idempotency_key)
        status, _ = self.client.request(
            "POST", API + f"request/{key}/comment", json={"body": text, "public": True}, allow=(404,)
        )
        if status == 404:
            raise RemoteTicketNotFound(f"JSM request {key} not found")

    def has_comment(self, ref: RemoteRef, key: str) -> bool:
        line = COMMENT_KEY_LINE + key
        mine = self._myself()
        return any(
            ends_with_line(c.get("body"), line) and self._author(c) == mine
            for c in self._public_comments(self._key(ref))
        )

    def health(self) -> Health:
        started = time.monotonic()
        try:
            status, _ = self.client.request("GET", API + f"servicedesk/{self.service_desk_id}", allow=(404,))
        except (BackendUnavailable, BackendRejected) as error:
            return Health(ok=False, detail=str(error))
        latency = (time.monotonic() - started) * 1000
        if status == 404:
            return Health(
                ok=False,
                detail=f"service desk {self.service_desk_id} not found or not visible to JIRA_EMAIL",
                latency_ms=latency,
            )
        return Health(ok=True, detail=f"JSM service desk {self.service_desk_id} answered", latency_ms=latency)

    # -- helpers ---------------------------------------------------------------------------------
    def _ref(self, body: Any) -> Optional[RemoteRef]:
        key = body.get("issueKey") if isinstance(body, dict) else None
        if not isinstance(key, str) or not ISSUE_KEY.fullmatch(key):
            return None
        links = body.get("_links") if isinstance(body.get("_links"), dict) else {}
        web = links.get("web") if isinstance(links.get("web"), str) else None
        return RemoteRef(backend=self.name, remote_id=key, display_id=key, url=web)

    @staticmethod
    def _key(ref: RemoteRef) -> str:
        if not ISSUE_KEY.fullmatch(ref.remote_id or ""):
            raise RemoteTicketNotFound("not a JSM issue key")
        return ref.remote_id

    @staticmethod
    def _field(item: Dict[str, Any], field_id: str) -> Any:
        for value in item.get("requestFieldValues") or []:
            if isinstance(value, dict) and value.get("fieldId") == field_id:
                return value.get("value")
        return None

    @staticmethod
    def _author(comment: Dict[str, Any]) -> Optional[str]:
        author = comment.get("author")
        return author.get("accountId") if isinstance(author, dict) else None

    def _myself(self) -> str:
        """The accountId of JIRA_EMAIL's account (asked once): its comments are the user's, not replies."""
        with self._lock:
            if self._account_id is None:
                _, body = self.client.request("GET", "rest/api/3/myself")
                account = body.get("accountId") if isinstance(body, dict) else None
                if not isinstance(account, str) or not account:
                    raise BackendUnavailable("GET myself: the answer has no accountId")
                self._account_id = account
            return self._account_id

    def _public_comments(self, key: str) -> List[Dict[str, Any]]:
        comments: List[Dict[str, Any]] = []
        for page in range(COMMENT_PAGES):
            params = {"public": "true", "internal": "false", "start": str(page * PAGE), "limit": str(PAGE)}
            status, body = self.client.request("GET", API + f"request/{key}/comment", params=params, allow=(404,))
            if status == 404:
                raise RemoteTicketNotFound(f"JSM request {key} not found")
            values = body.get("values") if isinstance(body, dict) else None
            if not isinstance(values, list):
                raise BackendUnavailable("GET comment: the answer has no list of comments")
            # public=true&internal=false asks for public comments only; the check keeps it so if not honoured.
            comments.extend(c for c in values if isinstance(c, dict) and c.get("public") is True)
            if body.get("isLastPage", True) or not values:
                break
        return comments

    def _latest_reply(self, key: str) -> Optional[RemoteReply]:
        mine = self._myself()
        latest: Optional[RemoteReply] = None
        for comment in self._public_comments(key):
            created = _when(comment.get("created"))
            if self._author(comment) == mine or created is None or not isinstance(comment.get("body"), str):
                continue
            if latest is None or created >= latest.created_at:
                author = comment.get("author") or {}
                name = str(author.get("displayName") or "staff")
                latest = RemoteReply(created_at=created, author=name, text=comment["body"].strip())
        return latest
