"""A fake Jira Service Management Cloud: customer requests through the Service Desk REST API.

It implements, and checks every request against, what Atlassian's published reference says:

- Customer requests — create, list (with `searchTerm`), get, comments, transitions:
  https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/
  (OpenAPI: https://developer.atlassian.com/cloud/jira/service-desk/swagger.v3.json)
  POST /rest/servicedeskapi/request takes `serviceDeskId` and `requestTypeId` (strings),
  `requestFieldValues` (a map of Jira field ids to values: the fields of the request type) and
  optionally `raiseOnBehalfOf`, `requestParticipants`, `channel`; answers 201 with the request
  (`issueId`, `issueKey`, `currentStatus` {status, statusCategory, statusDate}, `requestFieldValues`
  as [{fieldId, label, value}], `_links`). GET /rest/servicedeskapi/request filters by `searchTerm`
  ("Filters customer requests where the request summary matches the searchTerm"),
  `requestOwnership`, `requestStatus`, `serviceDeskId`, `start`, `limit`. Comments: GET/POST
  /rest/servicedeskapi/request/{issueIdOrKey}/comment (`body` string, `public` boolean; "Customers can
  only create public comments"; GET filters with `public`, `internal`, `start`, `limit`).
  Transitions: GET/POST /rest/servicedeskapi/request/{issueIdOrKey}/transition (`id`,
  `additionalComment` {body}).
- Service desks: GET /rest/servicedeskapi/servicedesk/{serviceDeskId}
  https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-servicedesk/
- Request type fields (what `requestFieldValues` may contain):
  GET /rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype/{requestTypeId}/field
- The calling user: GET /rest/api/3/myself
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/
- Authentication: basic auth with the account's email address and an API token,
  https://developer.atlassian.com/cloud/jira/service-desk/basic-auth-for-rest-apis/
  (401 without valid credentials).
- Field input formats (summary: a single line of at most 255 characters; priority: {"name": …}):
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post
  and https://support.atlassian.com/jira-cloud-administration/docs/what-are-the-field-limits/
  (summary 255 characters, text fields 32,767).
- Errors of the Service Desk API are {"errorMessage", "i18nErrorMessage": {"i18nKey", "parameters"}}
  (the `ErrorResponse` schema of the OpenAPI document); the platform API's (/rest/api/3) are
  {"errorMessages": [...], "errors": {...}}.

Accounts have a role: a "customer" (portal-only: creates requests, sees its own requests and their
public comments, comments publicly) or an "agent" (sees everything, comments publicly or
internally, transitions). Tests act as staff through the same HTTP API with an agent's credentials.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Tuple

from tests.fakes.vendor import Answer, Incoming, Refused, VendorFake, basic_credentials, staff_session

API = "/rest/servicedeskapi"
PROJECT_KEY = "HELP"
SUMMARY_MAX = 255
TEXT_MAX = 32767
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
REQUEST_CREATE_KEYS = {
    "serviceDeskId",
    "requestTypeId",
    "requestFieldValues",
    "raiseOnBehalfOf",
    "requestParticipants",
    "channel",
    "isAdfRequest",
    "form",
}
OWNERSHIP = {"OWNED_REQUESTS", "PARTICIPATED_REQUESTS", "ORGANIZATION", "ALL_ORGANIZATIONS", "APPROVER", "ALL_REQUESTS"}
REQUEST_STATUS = {"CLOSED_REQUESTS", "OPEN_REQUESTS", "ALL_REQUESTS"}
LIST_PARAMS = {
    "searchTerm",
    "requestOwnership",
    "requestStatus",
    "approvalStatus",
    "organizationId",
    "serviceDeskId",
    "requestTypeId",
    "expand",
    "start",
    "limit",
}
KEY = re.compile(r"[A-Z][A-Z0-9_]*-[0-9]+|[0-9]+")
# The workflow of the fake's request type: status → (category); transitions id → (name, to status).
STATUSES = {
    "Waiting for support": "NEW",
    "In progress": "INDETERMINATE",
    "Waiting for customer": "INDETERMINATE",
    "Resolved": "DONE",
}
TRANSITIONS = {
    "11": ("Start progress", "In progress"),
    "21": ("Respond to customer", "Waiting for customer"),
    "31": ("Resolve", "Resolved"),
}


def _date(when: float) -> Dict[str, Any]:
    moment = datetime.fromtimestamp(when, timezone.utc)
    return {
        "iso8601": moment.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "jira": moment.strftime("%Y-%m-%dT%H:%M:%S.000%z"),
        "friendly": moment.strftime("%d/%b/%y %I:%M %p"),
        "epochMillis": int(when * 1000),
    }


@dataclass
class Account:
    email: str
    token: str
    account_id: str
    display_name: str
    role: str  # "customer" or "agent"


@dataclass
class Comment:
    id: str
    body: str
    public: bool
    author: Account
    created: float


@dataclass
class CustomerRequest:
    issue_id: str
    key: str
    service_desk_id: str
    request_type_id: str
    fields: Dict[str, Any]
    creator: Account
    reporter: Account
    status: str = "Waiting for support"
    status_date: float = field(default_factory=time.time)
    created: float = field(default_factory=time.time)
    comments: List[Comment] = field(default_factory=list)

    def activity(self) -> float:
        return max([self.created, self.status_date] + [c.created for c in self.comments])


class JiraFake(VendorFake):
    name = "jira"

    def __init__(self, service_desk_id: str = "1", request_type_ids: Tuple[str, ...] = ("10", "11")) -> None:
        self.service_desk_id = service_desk_id
        self.request_type_ids = request_type_ids
        # The fields every request type of the fake has (what .../requesttype/{id}/field lists).
        self.request_type_fields = {"summary": True, "description": False, "priority": False}  # id → required
        self.accounts: Dict[str, Account] = {}
        self.requests_by_key: Dict[str, CustomerRequest] = {}
        self._next_issue = 10000
        self._next_comment = 20000
        self.add_account("assistant@example.com", "assistant-api-token", "customer", "Alimail assistant")
        self.add_account("agent@example.com", "agent-api-token", "agent", "Anna Agent")
        super().__init__()

    # -- set-up and staff helpers ----------------------------------------------------------------
    def add_account(self, email: str, token: str, role: str, display_name: str) -> Account:
        account = Account(email, token, f"5b10ac8d82e05b22cc7d{len(self.accounts):04d}", display_name, role)
        self.accounts[email] = account
        return account

    def created_requests(self) -> List[CustomerRequest]:
        with self.lock:
            return list(self.requests_by_key.values())

    # -- routing ---------------------------------------------------------------------------------
    def error_body(self, status: int, message: str, detail: str) -> Any:
        return {
            "errorMessage": message + (f": {detail}" if detail else ""),
            "i18nErrorMessage": {"i18nKey": f"sd.error.{status}", "parameters": []},
        }

    def route(self, incoming: Incoming) -> Answer:
        path = incoming.path
        if not (path.startswith(API + "/") or path == "/rest/api/3/myself"):
            raise Refused(404, "Not Found", f"no such resource {path}")
        self.require_accept_json(incoming)
        account = self._authenticate(incoming)
        incoming.account = account.email
        parts = path[len(API) + 1 :].split("/") if path.startswith(API) else []
        method = incoming.method
        if path == "/rest/api/3/myself" and method == "GET":
            self._only_params(incoming, {"expand"})
            return Answer(
                200, self._user(account) | {"accountType": "customer" if account.role == "customer" else "atlassian"}
            )
        if parts[:1] == ["servicedesk"] and len(parts) == 2 and method == "GET":
            return self._service_desk(parts[1])
        if parts[:1] == ["servicedesk"] and len(parts) == 5 and parts[2] == "requesttype" and parts[4] == "field":
            return self._request_type_fields(parts[1], parts[3])
        if parts == ["request"] and method == "POST":
            return self._create(incoming, account)
        if parts == ["request"] and method == "GET":
            return self._list(incoming, account)
        if parts[:1] == ["request"] and len(parts) >= 2:
            request = self._visible_request(parts[1], account)
            if len(parts) == 2 and method == "GET":
                self._only_params(incoming, {"expand"})
                return Answer(200, self._request_json(request))
            if len(parts) == 3 and parts[2] == "comment" and method == "GET":
                return self._comments(incoming, account, request)
            if len(parts) == 3 and parts[2] == "comment" and method == "POST":
                return self._add_comment(incoming, account, request)
            if len(parts) == 3 and parts[2] == "transition" and method == "GET":
                return self._transitions(account, request)
            if len(parts) == 3 and parts[2] == "transition" and method == "POST":
                return self._transition(incoming, account, request)
        raise Refused(
            405 if path.startswith(API + "/request") else 404,
            "Not Found",
            f"{method} {path} is not a documented operation",
        )

    # -- checks ----------------------------------------------------------------------------------
    def _authenticate(self, incoming: Incoming) -> Account:
        credentials = basic_credentials(incoming.headers.get("authorization"))
        if credentials is None:
            raise Refused(401, "Unauthorized", "basic auth with email:API token required")
        account = self.accounts.get(credentials[0])
        if account is None or account.token != credentials[1]:
            raise Refused(401, "Unauthorized", "wrong email or API token", violation=False)
        return account

    @staticmethod
    def _only_params(incoming: Incoming, allowed: set) -> None:
        unknown = sorted(set(incoming.query) - allowed)
        if unknown:
            raise Refused(400, "Bad Request", f"undocumented query parameter(s) {unknown}")

    @staticmethod
    def _int_param(incoming: Incoming, name: str, default: int, low: int, high: int) -> int:
        raw = incoming.param(name)
        if raw is None:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise Refused(400, "Bad Request", f"{name}={raw!r} is not an integer in [{low}, {high}]")
        return int(raw)

    def _visible_request(self, key: str, account: Account) -> CustomerRequest:
        if not KEY.fullmatch(key):
            raise Refused(404, "Not Found", f"{key!r} is not an issue id or key")
        request = self.requests_by_key.get(key) or next(
            (r for r in self.requests_by_key.values() if r.issue_id == key), None
        )
        if request is None or not self._can_see(account, request):
            raise Refused(404, "Request does not exist or you do not have permission to see it", violation=False)
        return request

    @staticmethod
    def _can_see(account: Account, request: CustomerRequest) -> bool:
        return account.role == "agent" or account.email in (request.creator.email, request.reporter.email)

    # -- operations ------------------------------------------------------------------------------
    def _service_desk(self, desk_id: str) -> Answer:
        if desk_id != self.service_desk_id:
            raise Refused(404, "The service desk does not exist", violation=False)
        return Answer(
            200,
            {
                "id": desk_id,
                "projectId": "10000",
                "projectName": "Help desk",
                "projectKey": PROJECT_KEY,
                "_links": {"self": f"{self.url}{API}/servicedesk/{desk_id}"},
            },
        )

    def _request_type_fields(self, desk_id: str, type_id: str) -> Answer:
        if desk_id != self.service_desk_id or type_id not in self.request_type_ids:
            raise Refused(404, "The request type does not exist", violation=False)
        fields = [
            {"fieldId": name, "name": name.title(), "required": required, "validValues": []}
            for name, required in self.request_type_fields.items()
        ]
        return Answer(
            200, {"requestTypeFields": fields, "canRaiseOnBehalfOf": False, "canAddRequestParticipants": False}
        )

    def _create(self, incoming: Incoming, account: Account) -> Answer:
        body = self.require_json_body(incoming)
        self._only_params(incoming, set())
        unknown = sorted(set(body) - REQUEST_CREATE_KEYS)
        if unknown:
            raise Refused(400, "Bad Request", f"unknown properties {unknown}")
        for name in ("serviceDeskId", "requestTypeId"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise Refused(400, f"{name} is required", f"{name} must be a string")
        if body["serviceDeskId"] != self.service_desk_id:
            raise Refused(404, "The service desk does not exist", violation=False)
        if body["requestTypeId"] not in self.request_type_ids:
            raise Refused(400, "The request type you are trying to use does not exist", violation=False)
        values = body.get("requestFieldValues")
        if not isinstance(values, dict):
            raise Refused(400, "requestFieldValues is required", "requestFieldValues must be an object")
        not_on_type = sorted(set(values) - set(self.request_type_fields))
        if not_on_type:
            raise Refused(400, "Field(s) cannot be set: not on the request type", f"fields {not_on_type}")
        for name, required in self.request_type_fields.items():
            if required and name not in values:
                raise Refused(400, f"Field '{name}' is required", f"missing {name}")
        summary = values.get("summary")
        if not isinstance(summary, str) or not summary.strip() or "\n" in summary or len(summary) > SUMMARY_MAX:
            raise Refused(400, "Summary must be a single line of at most 255 characters", f"summary {summary!r:.80}")
        description = values.get("description", "")
        if not isinstance(description, str) or len(description) > TEXT_MAX:
            raise Refused(400, "Description must be text of at most 32767 characters", "description")
        if "priority" in values:
            priority = values["priority"]
            if (
                not isinstance(priority, dict)
                or set(priority) - {"name", "id"}
                or priority.get("name") not in PRIORITIES
            ):
                raise Refused(400, "Specify a valid priority", f"priority {priority!r}")
        reporter = account
        if "raiseOnBehalfOf" in body:
            on_behalf = body["raiseOnBehalfOf"]
            if not isinstance(on_behalf, str):
                raise Refused(400, "raiseOnBehalfOf must be a string", "raiseOnBehalfOf")
            if account.role != "agent":
                raise Refused(
                    403, "You do not have permission to raise requests on behalf of customers", violation=False
                )
            found = next((a for a in self.accounts.values() if a.account_id == on_behalf), None)
            if found is None:
                raise Refused(400, "The customer does not exist", "raiseOnBehalfOf", violation=False)
            reporter = found
        self._next_issue += 1
        issue_id = str(self._next_issue)
        key = f"{PROJECT_KEY}-{len(self.requests_by_key) + 1}"
        request = CustomerRequest(
            issue_id, key, body["serviceDeskId"], body["requestTypeId"], dict(values), account, reporter
        )
        self.requests_by_key[key] = request
        return Answer(201, self._request_json(request))

    def _list(self, incoming: Incoming, account: Account) -> Answer:
        self._only_params(incoming, LIST_PARAMS)
        ownership = set(incoming.query.get("requestOwnership", [])) or {
            "OWNED_REQUESTS",
            "PARTICIPATED_REQUESTS",
            "ALL_ORGANIZATIONS",
        }
        if ownership - OWNERSHIP:
            raise Refused(400, "Bad Request", f"requestOwnership {sorted(ownership - OWNERSHIP)}")
        status_filter = incoming.param("requestStatus") or "ALL_REQUESTS"
        if status_filter not in REQUEST_STATUS:
            raise Refused(400, "Bad Request", f"requestStatus {status_filter!r}")
        start = self._int_param(incoming, "start", 0, 0, 10**6)
        limit = self._int_param(incoming, "limit", 50, 1, 100)
        desk = incoming.param("serviceDeskId")
        term = (incoming.param("searchTerm") or "").lower()
        matches = []
        # "ordered chronologically by the latest activity on each request" (status change or comment)
        for request in sorted(self.requests_by_key.values(), key=lambda r: -r.activity()):
            owned = request.creator.email == account.email or request.reporter.email == account.email
            if not owned and not ("ALL_REQUESTS" in ownership and account.role == "agent"):
                continue
            if desk is not None and request.service_desk_id != desk:
                continue
            done = STATUSES[request.status] == "DONE"
            if (status_filter == "OPEN_REQUESTS" and done) or (status_filter == "CLOSED_REQUESTS" and not done):
                continue
            if term and term not in request.fields["summary"].lower():
                continue
            matches.append(request)
        return self._page(matches, start, limit, self._request_json, f"{API}/request")

    def _comments(self, incoming: Incoming, account: Account, request: CustomerRequest) -> Answer:
        self._only_params(incoming, {"public", "internal", "expand", "start", "limit"})
        flags = {}
        for name in ("public", "internal"):
            raw = incoming.param(name)
            if raw is not None and raw not in ("true", "false"):
                raise Refused(400, "Bad Request", f"{name}={raw!r} is not a boolean")
            flags[name] = raw != "false"
        start = self._int_param(incoming, "start", 0, 0, 10**6)
        limit = self._int_param(incoming, "limit", 50, 1, 100)
        visible = [
            c
            for c in request.comments
            if (c.public and flags["public"]) or (not c.public and flags["internal"] and account.role == "agent")
        ]
        return self._page(visible, start, limit, self._comment_json, f"{API}/request/{request.key}/comment")

    def _page(self, items: List[Any], start: int, limit: int, to_json: Callable[[Any], Any], path: str) -> Answer:
        """One page of `items` as Jira Service Management pages its lists (PagedDTO)."""
        page = items[start : start + limit]
        return Answer(
            200,
            {
                "size": len(page),
                "start": start,
                "limit": limit,
                "isLastPage": start + limit >= len(items),
                "values": [to_json(item) for item in page],
                "_links": {"base": self.url, "context": "", "self": f"{self.url}{path}"},
            },
        )

    def _add_comment(self, incoming: Incoming, account: Account, request: CustomerRequest) -> Answer:
        body = self.require_json_body(incoming)
        self._only_params(incoming, set())
        unknown = sorted(set(body) - {"body", "public"})
        if unknown:
            raise Refused(400, "Bad Request", f"unknown properties {unknown}")
        text = body.get("body")
        if not isinstance(text, str) or not text.strip() or len(text) > TEXT_MAX:
            raise Refused(
                400, "The comment body is required", "body must be non-empty text of at most 32767 characters"
            )
        public = body.get("public", True)
        if not isinstance(public, bool):
            raise Refused(400, "Bad Request", "public must be a boolean")
        if not public and account.role != "agent":
            raise Refused(403, "Customers can only create public comments", violation=False)
        self._next_comment += 1
        comment = Comment(str(self._next_comment), text, public, account, time.time())
        request.comments.append(comment)
        if account.role == "customer" and request.status == "Waiting for customer":
            request.status, request.status_date = "Waiting for support", time.time()
        return Answer(201, self._comment_json(comment))

    def _transitions(self, account: Account, request: CustomerRequest) -> Answer:
        values = (
            [{"id": tid, "name": name} for tid, (name, to) in TRANSITIONS.items() if to != request.status]
            if account.role == "agent"
            else []
        )
        return Answer(200, {"size": len(values), "start": 0, "limit": 50, "isLastPage": True, "values": values})

    def _transition(self, incoming: Incoming, account: Account, request: CustomerRequest) -> Answer:
        body = self.require_json_body(incoming)
        if set(body) - {"id", "additionalComment"} or not isinstance(body.get("id"), str):
            raise Refused(400, "Bad Request", "a transition is {id: string, additionalComment?: {body}}")
        if account.role != "agent" or body["id"] not in TRANSITIONS:
            raise Refused(400, "The transition is not valid", violation=False)
        request.status, request.status_date = TRANSITIONS[body["id"]][1], time.time()
        extra = body.get("additionalComment")
        if isinstance(extra, dict) and isinstance(extra.get("body"), str):
            self._next_comment += 1
            request.comments.append(Comment(str(self._next_comment), extra["body"], True, account, time.time()))
        return Answer(204)

    # -- JSON shapes -----------------------------------------------------------------------------
    def _user(self, account: Account) -> Dict[str, Any]:
        return {
            "accountId": account.account_id,
            "emailAddress": account.email,
            "displayName": account.display_name,
            "active": True,
            "timeZone": "UTC",
            "_links": {"self": f"{self.url}/rest/api/3/user?accountId={account.account_id}"},
        }

    def _comment_json(self, comment: Comment) -> Dict[str, Any]:
        return {
            "id": comment.id,
            "body": comment.body,
            "public": comment.public,
            "author": self._user(comment.author),
            "created": _date(comment.created),
            "_links": {"self": f"{self.url}{API}/request/comment/{comment.id}"},
        }

    def _request_json(self, request: CustomerRequest) -> Dict[str, Any]:
        labels = {"summary": "Summary", "description": "Description", "priority": "Priority"}
        return {
            "_expands": [
                "participant",
                "status",
                "sla",
                "requestType",
                "serviceDesk",
                "attachment",
                "action",
                "comment",
            ],
            "issueId": request.issue_id,
            "issueKey": request.key,
            "requestTypeId": request.request_type_id,
            "serviceDeskId": request.service_desk_id,
            "createdDate": _date(request.created),
            "reporter": self._user(request.reporter),
            "requestFieldValues": [
                {"fieldId": name, "label": labels[name], "value": value} for name, value in request.fields.items()
            ],
            "currentStatus": {
                "status": request.status,
                "statusCategory": STATUSES[request.status],
                "statusDate": _date(request.status_date),
            },
            "_links": {
                "jiraRest": f"{self.url}/rest/api/2/issue/{request.issue_id}",
                "web": f"{self.url}/servicedesk/customer/portal/{request.service_desk_id}/{request.key}",
                "agent": f"{self.url}/browse/{request.key}",
                "self": f"{self.url}{API}/request/{request.issue_id}",
            },
        }


class JiraStaff:
    """An agent working the fake's requests through the same documented HTTP API (not a back door)."""

    def __init__(self, fake: JiraFake, email: str = "agent@example.com", token: str = "agent-api-token") -> None:
        self.fake = fake
        self.session = staff_session(email, token)

    def reply(self, key: str, text: str, public: bool = True) -> Dict[str, Any]:
        response = self.session.post(
            f"{self.fake.url}{API}/request/{key}/comment", json={"body": text, "public": public}, timeout=5
        )
        assert response.status_code == 201, response.text
        return response.json()

    def transition(self, key: str, to_status: str) -> None:
        listed = self.session.get(f"{self.fake.url}{API}/request/{key}/transition", timeout=5).json()["values"]
        wanted = next(t["id"] for t in listed if TRANSITIONS[t["id"]][1] == to_status)
        response = self.session.post(f"{self.fake.url}{API}/request/{key}/transition", json={"id": wanted}, timeout=5)
        assert response.status_code == 204, response.text

    def comments(self, key: str) -> List[Dict[str, Any]]:
        response = self.session.get(f"{self.fake.url}{API}/request/{key}/comment", timeout=5)
        assert response.status_code == 200, response.text
        return list(response.json()["values"])
