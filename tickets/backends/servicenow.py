"""ServiceNow as the ticket backend: incidents through the Table API.

    TICKET_BACKEND=servicenow SERVICENOW_URL=https://example.service-now.com SERVICENOW_USER=…
    SERVICENOW_PASSWORD=… (or SERVICENOW_OAUTH_TOKEN=…)

What it calls (ServiceNow's reference: https://www.servicenow.com/docs/r/api-reference/rest-apis/c_TableAPI.html):

- create: POST api/now/table/incident {short_description, description, urgency, impact,
  correlation_id, correlation_display, caller_id?, assignment_group?}. `correlation_id` is the
  idempotency key ("used to correlate the record with an external system"); the priority is mapped
  onto urgency and impact, from which the instance calculates its own priority (High → urgency 1,
  impact 2: priority 2 - High; Medium → 2/2: 3 - Moderate; Low → 3/2: 4 - Low, with the default
  lookup rules). caller_id is the sys_user whose email is the one the user gave
  (SERVICENOW_CALLER_LOOKUP), when there is exactly one.
- find_by_idempotency_key: GET api/now/table/incident?sysparm_query=correlation_id=<key>.
- status: GET api/now/table/incident/{sys_id} (`state`: 1 New → open, 2 In Progress and 3 On Hold →
  in_progress, 6 Resolved → resolved, 7 Closed and 8 Canceled → closed) and the latest "Additional
  comments" entry not written by SERVICENOW_USER: GET api/now/table/sys_journal_field?sysparm_query=
  element_id=<sys_id>^element=comments^sys_created_by!=<user>^ORDERBYDESCsys_created_on (work notes
  are internal and never shown).
- add_comment: PATCH api/now/table/incident/{sys_id} {comments}; the text ends with
  `Assistant comment key: <key>` so that has_comment can find a retried comment in sys_journal_field.
- health: GET api/now/table/incident?sysparm_limit=1.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

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

logger = logging.getLogger(__name__)

TABLE = "api/now/table/"
SHORT_DESCRIPTION_MAX = 160  # incident.short_description
TEXT_MAX = 4000  # incident.description and a journal entry (comments)
CORRELATION_DISPLAY = "Alimail assistant"
COMMENT_KEY_LINE = "Assistant comment key: "
SYS_ID = re.compile(r"[0-9a-f]{32}")
# An address whose characters are all safe inside an encoded query (no ^, =, !, @ only once).
SAFE_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,255}")
SAFE_USER = re.compile(r"[A-Za-z0-9._@+-]{1,100}")
STATE_STATUS = {"1": "open", "2": "in_progress", "3": "in_progress", "6": "resolved", "7": "closed", "8": "closed"}
STATE_NAMES = {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"}
URGENCY_IMPACT = {"High": ("1", "2"), "Medium": ("2", "2"), "Low": ("3", "2")}


def parse_time(value: Any) -> Optional[datetime]:
    """A Table API date-time ("2026-12-07 15:40:52", UTC when sysparm_display_value is false)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


class ServiceNowBackend(TicketBackend):
    name = "servicenow"

    def __init__(self, settings: Settings) -> None:
        if not settings.servicenow_url or not settings.servicenow_user:
            raise ValueError("TICKET_BACKEND=servicenow needs SERVICENOW_URL and SERVICENOW_USER")
        if not settings.servicenow_oauth_token and not settings.servicenow_password:
            raise ValueError("TICKET_BACKEND=servicenow needs SERVICENOW_PASSWORD or SERVICENOW_OAUTH_TOKEN")
        if not SAFE_USER.fullmatch(settings.servicenow_user):
            raise ValueError("SERVICENOW_USER has characters a user name in an encoded query can't have")
        self.base_url = settings.servicenow_url
        self.user = settings.servicenow_user
        self.groups = {
            "support": settings.servicenow_assignment_group,
            "postmaster": settings.servicenow_assignment_group_postmaster or settings.servicenow_assignment_group,
        }
        self.caller_lookup = settings.servicenow_caller_lookup
        timeout = settings.ticket_backend_timeout
        if settings.servicenow_oauth_token:  # an OAuth 2.0 access token wins over the password
            self.client = JsonClient(
                settings.servicenow_url,
                timeout=timeout,
                headers={"Authorization": f"Bearer {settings.servicenow_oauth_token}"},
            )
        else:
            self.client = JsonClient(
                settings.servicenow_url, timeout=timeout, auth=(self.user, settings.servicenow_password or "")
            )

    # -- the interface ---------------------------------------------------------------------------
    def create(self, request: TicketRequest) -> RemoteRef:
        if not IDEMPOTENCY_KEY.fullmatch(request.idempotency_key):
            raise BackendRejected("create: the idempotency key is not [A-Za-z0-9-]{1,64}")
        urgency, impact = URGENCY_IMPACT.get(request.priority, URGENCY_IMPACT["Medium"])
        record = {
            "short_description": one_line(f"{request.subject} [{request.reference}]", SHORT_DESCRIPTION_MAX),
            "description": cut(request.body, TEXT_MAX),
            "urgency": urgency,
            "impact": impact,
            "correlation_id": request.idempotency_key,
            "correlation_display": CORRELATION_DISPLAY,
        }
        group = self.groups.get(request.queue) or self.groups["support"]
        if group:
            record["assignment_group"] = group
        caller = self._caller(request.requestor_email) if self.caller_lookup else None
        if caller:
            record["caller_id"] = caller
        params = {"sysparm_fields": "sys_id,number", "sysparm_exclude_reference_link": "true"}
        _, body = self.client.request("POST", TABLE + "incident", json=record, params=params)
        ref = self._ref(body.get("result") if isinstance(body, dict) else None)
        if ref is None:
            raise BackendUnavailable("POST incident: the answer has no sys_id")
        return ref

    def find_by_idempotency_key(self, key: str) -> Optional[RemoteRef]:
        if not IDEMPOTENCY_KEY.fullmatch(key):
            return None
        params = {
            "sysparm_query": f"correlation_id={key}",
            "sysparm_fields": "sys_id,number,correlation_id",
            "sysparm_limit": "5",
        }
        for record in self._rows("incident", params):
            # An instance ignores a query term it can't use and answers more rows: check each one.
            if record.get("correlation_id") == key:
                return self._ref(record)
        return None

    def status(self, ref: RemoteRef) -> RemoteStatus:
        sys_id = self._sys_id(ref)
        params = {"sysparm_fields": "sys_id,number,state,sys_updated_on", "sysparm_exclude_reference_link": "true"}
        status, body = self.client.request("GET", TABLE + f"incident/{sys_id}", params=params, allow=(404,))
        record = body.get("result") if isinstance(body, dict) else None
        if status == 404 or not isinstance(record, dict):
            raise RemoteTicketNotFound(f"incident {sys_id} not found")
        state = str(record.get("state") or "")
        reply = self._latest_reply(sys_id)
        updated = parse_time(record.get("sys_updated_on"))
        return RemoteStatus(
            status=STATE_STATUS.get(state, "open"),
            raw_status=STATE_NAMES.get(state, state),
            updated_at=updated,
            latest_reply=reply,
        )

    def add_comment(self, ref: RemoteRef, comment: UserComment) -> None:
        sys_id = self._sys_id(ref)
        text = cut(comment.text, TEXT_MAX, COMMENT_KEY_LINE + comment.idempotency_key)
        params = {"sysparm_fields": "sys_id", "sysparm_exclude_reference_link": "true"}
        status, _ = self.client.request(
            "PATCH", TABLE + f"incident/{sys_id}", json={"comments": text}, params=params, allow=(404,)
        )
        if status == 404:
            raise RemoteTicketNotFound(f"incident {sys_id} not found")

    def has_comment(self, ref: RemoteRef, key: str) -> bool:
        sys_id = self._sys_id(ref)
        params = {
            "sysparm_query": (
                f"element_id={sys_id}^element=comments^sys_created_by={self.user}^ORDERBYDESCsys_created_on"
            ),
            "sysparm_fields": "value,element_id,element",
            "sysparm_limit": "200",
        }
        line = COMMENT_KEY_LINE + key
        return any(
            row.get("element_id") == sys_id
            and isinstance(row.get("value"), str)
            and row["value"].rstrip().endswith(line)
            for row in self._rows("sys_journal_field", params)
        )

    def health(self) -> Health:
        started = time.monotonic()
        try:
            self._rows("incident", {"sysparm_fields": "sys_id", "sysparm_limit": "1"})
        except (BackendUnavailable, BackendRejected) as error:
            return Health(ok=False, detail=str(error))
        return Health(
            ok=True, detail="ServiceNow incident table answered", latency_ms=(time.monotonic() - started) * 1000
        )

    # -- helpers ---------------------------------------------------------------------------------
    def _ref(self, record: Any) -> Optional[RemoteRef]:
        sys_id = record.get("sys_id") if isinstance(record, dict) else None
        if not isinstance(sys_id, str) or not SYS_ID.fullmatch(sys_id):
            return None
        number = record.get("number") if isinstance(record.get("number"), str) else None
        url = f"{self.base_url}nav_to.do?uri=incident.do%3Fsys_id%3D{sys_id}"
        return RemoteRef(backend=self.name, remote_id=sys_id, display_id=number, url=url)

    @staticmethod
    def _sys_id(ref: RemoteRef) -> str:
        if not SYS_ID.fullmatch(ref.remote_id or ""):
            raise RemoteTicketNotFound("not a ServiceNow sys_id")
        return ref.remote_id

    def _rows(self, table: str, params: Dict[str, str]) -> List[Dict[str, Any]]:
        _, body = self.client.request("GET", TABLE + table, params=params)
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, list):
            raise BackendUnavailable(f"GET {table}: the answer has no result list")
        return [row for row in result if isinstance(row, dict)]

    def _caller(self, email: str) -> Optional[str]:
        """The sys_id of the one active sys_user with this email; None when there is none, several, or
        the account may not read sys_user (the incident is then created without a caller)."""
        if not SAFE_EMAIL.fullmatch(email or ""):
            return None
        params = {"sysparm_query": f"email={email}^active=true", "sysparm_fields": "sys_id,email", "sysparm_limit": "2"}
        try:
            rows = self._rows("sys_user", params)
        except BackendRejected as error:
            logger.warning("ServiceNow caller lookup refused (%s): incident created without caller_id", error)
            return None
        matches: List[Tuple[str, str]] = [
            (str(row.get("sys_id")), str(row.get("email"))) for row in rows if SYS_ID.fullmatch(str(row.get("sys_id")))
        ]
        exact = [sys_id for sys_id, address in matches if address.lower() == email.lower()]
        return exact[0] if len(exact) == 1 else None

    def _latest_reply(self, sys_id: str) -> Optional[RemoteReply]:
        params = {
            "sysparm_query": (
                f"element_id={sys_id}^element=comments^sys_created_by!={self.user}^ORDERBYDESCsys_created_on"
            ),
            "sysparm_fields": "value,sys_created_on,sys_created_by,element,element_id",
            "sysparm_limit": "1",
        }
        for row in self._rows("sys_journal_field", params):
            created = parse_time(row.get("sys_created_on"))
            if row.get("element") != "comments" or row.get("element_id") != sys_id or created is None:
                continue  # an instance that ignored part of the query: never show a work note
            if row.get("sys_created_by") == self.user or not isinstance(row.get("value"), str):
                continue
            return RemoteReply(
                created_at=created, author=str(row.get("sys_created_by") or "staff"), text=row["value"].strip()
            )
        return None
