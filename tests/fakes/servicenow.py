"""A fake ServiceNow instance: incidents through the Table API.

It implements, and checks every request against, what ServiceNow's published reference says:

- Table API: https://docs.servicenow.com/bundle/utah-api-reference/page/integrate/inbound-rest/concept/c_TableAPI.html
  (same text for later releases: https://www.servicenow.com/docs/r/api-reference/rest-apis/c_TableAPI.html).
  GET /api/now/table/{tableName} with `sysparm_query` (an encoded query: `field=value` terms joined
  by `^`, `ORDERBY<field>` / `ORDERBYDESC<field>`), `sysparm_fields`, `sysparm_limit`,
  `sysparm_offset`, `sysparm_display_value`, `sysparm_exclude_reference_link`, … answers
  200 {"result": [records]}; GET /api/now/table/{tableName}/{sys_id} 200 {"result": record} or 404;
  POST /api/now/table/{tableName} (one record, a JSON object of field → value, `Content-Type:
  application/json`) answers 201 {"result": record} with a `Location` header; PATCH/PUT
  /api/now/table/{tableName}/{sys_id} 200 {"result": record}. The versioned form /api/now/v1/table/…
  is the same API.
- Errors: {"error": {"message", "detail"}, "status": "failure"}, with 400/401/403/404/405/415 as in
  "REST API HTTP response codes":
  https://docs.servicenow.com/bundle/utah-api-reference/page/integrate/inbound-rest/concept/c_RESTAPI.html
- Authentication: basic auth (user name and password) or an OAuth 2.0 bearer access token:
  https://docs.servicenow.com/bundle/utah-platform-security/page/administer/security/concept/c_OAuthApplications.html
- Incident fields (`short_description` 160 characters, `description` 4000, `correlation_id` and
  `correlation_display` 100 — "used to correlate the record with an external system";
  `urgency` / `impact` 1–3 with `priority` calculated from them by the priority lookup rules;
  `state` 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled; `caller_id` a sys_user
  reference; `assignment_group` a sys_user_group reference):
  https://docs.servicenow.com/bundle/utah-it-service-management/page/product/incident-management/reference/r_IncidentManagementStateModel.html
  and https://docs.servicenow.com/bundle/utah-it-service-management/page/product/incident-management/reference/r_PrioritizationOfIncidents.html
- Journal fields: writing `comments` (Additional comments, seen by the caller) or `work_notes`
  (internal) adds an entry to the Journal Entry table `sys_journal_field` (`element_id` the record,
  `name` its table, `element` the field, `value`, `sys_created_on`, `sys_created_by` the user name):
  https://docs.servicenow.com/bundle/utah-platform-administration/page/administer/field-administration/concept/c_JournalFields.html

Users have roles: the integration user (roles `itil`), staff (`itil`), and a plain user. Tests act as
staff through the same HTTP API (PATCH with `comments`, `work_notes`, `state`) with staff credentials.
The fake is stricter than an instance in one documented respect: an instance ignores an invalid
part of an encoded query (and returns *more* rows), the fake refuses it, so that a backend's query
mistake shows up.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from tests.fakes.vendor import Answer, Incoming, Refused, VendorFake, basic_credentials, staff_session

TABLE_PATH = re.compile(r"/api/now/(?:v[12]/)?table/([a-z0-9_]+)(?:/([^/]+))?")
SYS_ID = re.compile(r"[0-9a-f]{32}")
QUERY_PARAMS = {
    "sysparm_query",
    "sysparm_fields",
    "sysparm_limit",
    "sysparm_offset",
    "sysparm_display_value",
    "sysparm_exclude_reference_link",
    "sysparm_suppress_pagination_header",
    "sysparm_view",
    "sysparm_query_category",
    "sysparm_query_no_domain",
    "sysparm_no_count",
}
WRITE_PARAMS = {
    "sysparm_display_value",
    "sysparm_exclude_reference_link",
    "sysparm_fields",
    "sysparm_input_display_value",
    "sysparm_suppress_auto_sys_field",
    "sysparm_view",
    "sysparm_query_no_domain",
}
# Writable incident fields the fake knows, with their maximum length (None: a choice or reference).
INCIDENT_FIELDS: Dict[str, Optional[int]] = {
    "short_description": 160,
    "description": 4000,
    "correlation_id": 100,
    "correlation_display": 100,
    "comments": 4000,
    "work_notes": 4000,
    "urgency": None,
    "impact": None,
    "state": None,
    "caller_id": None,
    "assignment_group": None,
    "contact_type": None,
    "category": 40,
    "subcategory": 40,
    "close_code": None,
    "close_notes": 4000,
}
CHOICES = {
    "urgency": {"1", "2", "3"},
    "impact": {"1", "2", "3"},
    "state": {"1", "2", "3", "6", "7", "8"},
    "contact_type": {"email", "phone", "self-service", "virtual_agent", "walk-in", "chat"},
    "close_code": {
        "Solved (Work Around)",
        "Solved (Permanently)",
        "Solved Remotely (Work Around)",
        "Solved Remotely (Permanently)",
        "Not Solved (Not Reproducible)",
        "Not Solved (Too Costly)",
        "Closed/Resolved by Caller",
    },
}
REFERENCES = {"caller_id": "sys_user", "assignment_group": "sys_user_group"}
# Default priority lookup: (urgency, impact) → priority.
PRIORITY = {
    ("1", "1"): "1",
    ("1", "2"): "2",
    ("2", "1"): "2",
    ("1", "3"): "3",
    ("2", "2"): "3",
    ("3", "1"): "3",
    ("2", "3"): "4",
    ("3", "2"): "4",
    ("3", "3"): "5",
}
QUERY_FIELDS = {
    "incident": {
        "sys_id",
        "number",
        "correlation_id",
        "state",
        "caller_id",
        "active",
        "sys_created_on",
        "sys_updated_on",
    },
    "sys_journal_field": {"element_id", "element", "name", "sys_created_by", "sys_created_on", "value"},
    "sys_user": {"email", "user_name", "sys_id", "active"},
}
JOURNAL_FIELDS = ("comments", "work_notes")


def _now_text(when: Optional[float] = None) -> str:
    return datetime.fromtimestamp(time.time() if when is None else when, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class User:
    user_name: str
    password: str
    sys_id: str
    email: str
    roles: tuple


class ServiceNowFake(VendorFake):
    name = "servicenow"

    def __init__(self) -> None:
        self.users: Dict[str, User] = {}
        self.tokens: Dict[str, str] = {}  # OAuth access token → user name
        self.tables: Dict[str, Dict[str, Dict[str, Any]]] = {
            "incident": {},
            "sys_journal_field": {},
            "sys_user": {},
            "sys_user_group": {},
        }
        self._clock = 0
        self.add_user("alimail.integration", "integration-password", "alimail@example.com", ("itil",))
        self.add_user("anna.staff", "staff-password", "anna@example.com", ("itil",))
        self.add_user("casey.caller", "caller-password", "user@example.com", ())
        self.group_sys_id = self._insert("sys_user_group", {"name": "Mail support"})
        self.postmaster_group_sys_id = self._insert("sys_user_group", {"name": "Postmasters"})
        super().__init__()

    # -- set-up and inspection -----------------------------------------------------------------
    def add_user(self, user_name: str, password: str, email: str, roles: tuple) -> User:
        sys_id = self._insert("sys_user", {"user_name": user_name, "email": email, "active": "true"})
        user = User(user_name, password, sys_id, email, roles)
        self.users[user_name] = user
        return user

    def issue_token(self, user_name: str) -> str:
        token = uuid.uuid4().hex
        self.tokens[token] = user_name
        return token

    def incidents(self) -> List[Dict[str, Any]]:
        with self.lock:
            return [{k: v for k, v in r.items() if not k.startswith("_")} for r in self.tables["incident"].values()]

    def _insert(self, table: str, values: Dict[str, Any], by: str = "system") -> str:
        sys_id = uuid.uuid4().hex
        self._clock += 1
        stamp = _now_text()
        # "_seq" (never shown) orders records created within the same second, as the instance's own order would.
        record = {
            "_seq": self._clock,
            "sys_id": sys_id,
            "sys_created_on": stamp,
            "sys_updated_on": stamp,
            "sys_created_by": by,
            "sys_updated_by": by,
            **values,
        }
        self.tables[table][sys_id] = record
        return sys_id

    # -- routing ---------------------------------------------------------------------------------
    def error_body(self, status: int, message: str, detail: str) -> Any:
        return {"error": {"message": message, "detail": detail or None}, "status": "failure"}

    def route(self, incoming: Incoming) -> Answer:
        match = TABLE_PATH.fullmatch(incoming.path)
        if match is None:
            raise Refused(400, "Requested URI does not represent any resource", incoming.path)
        self.require_accept_json(incoming)
        user = self._authenticate(incoming)
        incoming.account = user.user_name
        table, sys_id = match.group(1), match.group(2)
        if table not in self.tables:
            raise Refused(400, "Invalid table", f"no table {table!r} in the fake")
        if not self._can_read(user, table):
            raise Refused(403, "User Not Authorized", "Failed API level ACL Validation", violation=False)
        method = incoming.method
        if sys_id is None and method == "GET":
            return self._query(incoming, table)
        if sys_id is None and method == "POST":
            return self._create(incoming, user, table)
        if sys_id is not None:
            if not SYS_ID.fullmatch(sys_id):
                raise Refused(404, "No Record found", f"{sys_id!r} is not a sys_id")
            record = self.tables[table].get(sys_id)
            if record is None:
                raise Refused(
                    404,
                    "No Record found",
                    "Record doesn't exist or ACL restricts the record retrieval",
                    violation=False,
                )
            if method == "GET":
                self._only(incoming, QUERY_PARAMS - {"sysparm_query", "sysparm_limit", "sysparm_offset"})
                return Answer(200, {"result": self._shape(incoming, table, record)})
            if method in ("PATCH", "PUT"):
                return self._update(incoming, user, table, record)
        raise Refused(405, "Method not Supported", f"{method} {incoming.path}")

    def _authenticate(self, incoming: Incoming) -> User:
        header = incoming.headers.get("authorization") or ""
        if header.startswith("Bearer "):
            name = self.tokens.get(header[len("Bearer ") :].strip())
            if name is None:
                raise Refused(401, "User Not Authenticated", "Required to provide Auth information", violation=False)
            return self.users[name]
        credentials = basic_credentials(header)
        if credentials is None:
            raise Refused(401, "User Not Authenticated", "Required to provide Auth information")
        user = self.users.get(credentials[0])
        if user is None or user.password != credentials[1]:
            raise Refused(401, "User Not Authenticated", "Required to provide Auth information", violation=False)
        return user

    @staticmethod
    def _can_read(user: User, table: str) -> bool:
        return "itil" in user.roles or table == "incident"

    @staticmethod
    def _only(incoming: Incoming, allowed: set) -> None:
        unknown = sorted(set(incoming.query) - allowed)
        if unknown:
            raise Refused(400, "Invalid parameter", f"undocumented query parameter(s) {unknown}")
        for name in ("sysparm_display_value",):
            value = incoming.param(name)
            if value is not None and value not in ("true", "false", "all"):
                raise Refused(400, "Invalid parameter", f"{name}={value!r}")
        for name in (
            "sysparm_exclude_reference_link",
            "sysparm_no_count",
            "sysparm_suppress_pagination_header",
            "sysparm_input_display_value",
        ):
            value = incoming.param(name)
            if value is not None and value not in ("true", "false"):
                raise Refused(400, "Invalid parameter", f"{name}={value!r}")

    # -- encoded queries -------------------------------------------------------------------------
    def _filter(self, table: str, query: str) -> List[Dict[str, Any]]:
        rows = list(self.tables[table].values())
        order: List[tuple] = []
        known = QUERY_FIELDS.get(table, set())
        for term in query.split("^") if query else []:
            if term.startswith("ORDERBYDESC") or term.startswith("ORDERBY"):
                descending = term.startswith("ORDERBYDESC")
                name = term[len("ORDERBYDESC") if descending else len("ORDERBY") :]
                if name not in known:
                    raise Refused(400, "Invalid query", f"ORDERBY on unknown field {name!r}")
                order.append((name, descending))
                continue
            found = re.fullmatch(r"([a-z_]+)(!=|=)(.*)", term)
            if found is None or found.group(1) not in known:
                raise Refused(
                    400,
                    "Invalid query",
                    f"term {term!r}: the fake knows field=value, field!=value, ORDERBY… on {sorted(known)}",
                )
            name, operator, value = found.groups()
            rows = [r for r in rows if (str(r.get(name, "")) == value) == (operator == "=")]
        for name, descending in reversed(order):
            rows.sort(key=lambda r: (str(r.get(name, "")), r["_seq"]), reverse=descending)
        return rows

    def _shape(self, incoming: Incoming, table: str, record: Dict[str, Any]) -> Dict[str, Any]:
        fields = incoming.param("sysparm_fields")
        names = [n.strip() for n in fields.split(",")] if fields else [n for n in record if not n.startswith("_")]
        exclude_links = incoming.param("sysparm_exclude_reference_link") == "true"
        shaped: Dict[str, Any] = {}
        for name in names:
            if name in JOURNAL_FIELDS:
                shaped[name] = ""  # a journal field reads as empty: its entries live in sys_journal_field
                continue
            value = record.get(name, "")
            if name in REFERENCES and value and not exclude_links:
                value = {"link": f"{self.url}/api/now/table/{REFERENCES[name]}/{value}", "value": value}
            shaped[name] = value
        return shaped

    def _query(self, incoming: Incoming, table: str) -> Answer:
        self._only(incoming, QUERY_PARAMS)
        limit_text = incoming.param("sysparm_limit") or "10000"
        offset_text = incoming.param("sysparm_offset") or "0"
        if not limit_text.isdigit() or not offset_text.isdigit():
            raise Refused(400, "Invalid parameter", "sysparm_limit / sysparm_offset must be non-negative integers")
        rows = self._filter(table, incoming.param("sysparm_query") or "")
        offset, limit = int(offset_text), int(limit_text)
        page = rows[offset : offset + limit]
        return Answer(
            200, {"result": [self._shape(incoming, table, r) for r in page]}, {"X-Total-Count": str(len(rows))}
        )

    # -- writes ----------------------------------------------------------------------------------
    def _check_values(self, body: Dict[str, Any]) -> None:
        for name, value in body.items():
            if name not in INCIDENT_FIELDS:
                raise Refused(400, "Invalid field", f"{name!r} is not a writable incident field")
            if not isinstance(value, str):
                raise Refused(400, "Invalid value", f"{name}: field values are strings in the Table API's JSON")
            limit = INCIDENT_FIELDS[name]
            if limit is not None and len(value) > limit:
                raise Refused(400, "Value too long", f"{name}: {len(value)} characters, at most {limit}")
            if name in CHOICES and value not in CHOICES[name]:
                raise Refused(400, "Invalid choice", f"{name}={value!r}")
            if name in REFERENCES and value and value not in self.tables[REFERENCES[name]]:
                raise Refused(400, "Invalid reference", f"{name}: no {REFERENCES[name]} {value!r}")

    def _journal(self, record: Dict[str, Any], body: Dict[str, Any], user: User) -> None:
        for element in JOURNAL_FIELDS:
            text = body.get(element)
            if text:
                self._insert(
                    "sys_journal_field",
                    {"element_id": record["sys_id"], "name": "incident", "element": element, "value": text},
                    by=user.user_name,
                )

    def _create(self, incoming: Incoming, user: User, table: str) -> Answer:
        body = self.require_json_body(incoming)
        self._only(incoming, WRITE_PARAMS)
        if table != "incident":
            raise Refused(403, "User Not Authorized", f"the fake only creates incidents, not {table}")
        if "itil" not in user.roles:
            raise Refused(403, "User Not Authorized", "Failed API level ACL Validation", violation=False)
        self._check_values(body)
        if not body.get("short_description", "").strip():
            raise Refused(400, "Data policy violation", "short_description is mandatory on the fake's incident form")
        values = {k: v for k, v in body.items() if k not in JOURNAL_FIELDS}
        values.setdefault("state", "1")
        values.setdefault("urgency", "3")
        values.setdefault("impact", "3")
        values["priority"] = PRIORITY[(values["urgency"], values["impact"])]
        values["active"] = "true"
        values["number"] = f"INC{10001 + len(self.tables['incident']):07d}"
        sys_id = self._insert("incident", values, by=user.user_name)
        record = self.tables["incident"][sys_id]
        self._journal(record, body, user)
        return Answer(
            201,
            {"result": self._shape(incoming, table, record)},
            {"Location": f"{self.url}/api/now/table/incident/{sys_id}"},
        )

    def _update(self, incoming: Incoming, user: User, table: str, record: Dict[str, Any]) -> Answer:
        body = self.require_json_body(incoming)
        self._only(incoming, WRITE_PARAMS)
        if table != "incident" or "itil" not in user.roles:
            raise Refused(403, "User Not Authorized", "Failed API level ACL Validation", violation=False)
        self._check_values(body)
        for name, value in body.items():
            if name not in JOURNAL_FIELDS:
                record[name] = value
        if "urgency" in body or "impact" in body:
            record["priority"] = PRIORITY[(record["urgency"], record["impact"])]
        record["active"] = "false" if record["state"] in ("6", "7", "8") else "true"
        self._journal(record, body, user)
        self._clock += 1
        record["sys_updated_on"] = _now_text()
        record["sys_updated_by"] = user.user_name
        return Answer(200, {"result": self._shape(incoming, table, record)})


class ServiceNowStaff:
    """A service desk agent working the fake's incidents through the same documented Table API."""

    def __init__(self, fake: ServiceNowFake, user: str = "anna.staff", password: str = "staff-password") -> None:
        self.fake = fake
        self.session = staff_session(user, password)

    def update(self, sys_id: str, **values: str) -> Dict[str, Any]:
        response = self.session.patch(f"{self.fake.url}/api/now/table/incident/{sys_id}", json=values, timeout=5)
        assert response.status_code == 200, response.text
        return dict(response.json()["result"])

    def reply(self, sys_id: str, text: str) -> Dict[str, Any]:
        return self.update(sys_id, comments=text)

    def work_note(self, sys_id: str, text: str) -> Dict[str, Any]:
        return self.update(sys_id, work_notes=text)

    def journal(self, sys_id: str, element: str = "comments") -> List[Dict[str, Any]]:
        query = f"element_id={sys_id}^element={element}^ORDERBYsys_created_on"
        response = self.session.get(
            f"{self.fake.url}/api/now/table/sys_journal_field", params={"sysparm_query": query}, timeout=5
        )
        assert response.status_code == 200, response.text
        return list(response.json()["result"])
