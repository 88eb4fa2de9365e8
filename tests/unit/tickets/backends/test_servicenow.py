"""tickets/backends/servicenow.py against the ServiceNow fake (tests/fakes/servicenow.py), which checks
every request against ServiceNow's published Table API (and records what breaks it in `violations`)."""

from __future__ import annotations

from typing import Any, Dict, Iterator

import pytest
import requests

from core.settings import Settings, SettingsError
from tests.fake_http import RecordingServer
from tests.fakes.servicenow import ServiceNowFake, ServiceNowStaff
from tests.ticket_requests import ticket_request as ticket
from tickets.backends import make_backend
from tickets.backends.base import (
    BackendRejected,
    BackendUnavailable,
    RemoteRef,
    RemoteTicketNotFound,
    UserComment,
)
from tickets.backends.servicenow import COMMENT_KEY_LINE, SHORT_DESCRIPTION_MAX, TEXT_MAX, ServiceNowBackend

INCIDENTS = "/api/now/table/incident"


def environ(fake: ServiceNowFake, **extra: str) -> Dict[str, str]:
    values = {
        "TICKET_BACKEND": "servicenow",
        "SERVICENOW_URL": fake.url,
        "SERVICENOW_USER": "alimail.integration",
        "SERVICENOW_PASSWORD": "integration-password",
        "TICKET_BACKEND_TIMEOUT": "0.5",
    }
    values.update(extra)
    return values


@pytest.fixture()
def fake() -> Iterator[ServiceNowFake]:
    server = ServiceNowFake()
    yield server
    server.stop()


@pytest.fixture()
def backend(fake: ServiceNowFake) -> ServiceNowBackend:
    return ServiceNowBackend(Settings.from_environ(environ(fake)))


def test_make_backend_picks_servicenow(fake: ServiceNowFake) -> None:
    assert isinstance(make_backend(Settings.from_environ(environ(fake))), ServiceNowBackend)


@pytest.mark.parametrize("missing", ["SERVICENOW_URL", "SERVICENOW_USER", "SERVICENOW_PASSWORD"])
def test_required_settings(fake: ServiceNowFake, missing: str) -> None:
    values = environ(fake)
    del values[missing]
    with pytest.raises(SettingsError, match=missing):
        Settings.from_environ(values)


def test_assignment_group_must_be_a_sys_id(fake: ServiceNowFake) -> None:
    with pytest.raises(SettingsError, match="SERVICENOW_ASSIGNMENT_GROUP"):
        Settings.from_environ(environ(fake, SERVICENOW_ASSIGNMENT_GROUP="Mail support"))


def test_create_sends_the_documented_record(fake: ServiceNowFake, backend: ServiceNowBackend) -> None:
    ref = backend.create(ticket())
    (incident,) = fake.incidents()
    assert ref.backend == "servicenow" and ref.remote_id == incident["sys_id"] and ref.display_id == "INC0010001"
    assert incident["short_description"] == "Forgotten Password [ALM-000001]"
    assert incident["description"].startswith("Reference: ALM-000001")
    assert incident["correlation_id"] == "ALM-000001-abcdef012345"
    assert (incident["urgency"], incident["impact"], incident["priority"]) == ("1", "2", "2")  # 2 - High
    assert incident["caller_id"] == fake.users["casey.caller"].sys_id  # found by the email the user gave
    assert "assignment_group" not in incident
    (call,) = fake.calls("POST", INCIDENTS)
    assert call.headers["content-type"].startswith("application/json")
    assert call.headers["authorization"].startswith("Basic ")
    assert fake.violations == []


def test_priority_queue_and_caller_mapping(fake: ServiceNowFake) -> None:
    backend = ServiceNowBackend(
        Settings.from_environ(
            environ(
                fake,
                SERVICENOW_ASSIGNMENT_GROUP=fake.group_sys_id,
                SERVICENOW_ASSIGNMENT_GROUP_POSTMASTER=fake.postmaster_group_sys_id,
            )
        )
    )
    backend.create(ticket("k-1", priority="Medium", queue="postmaster", requestor_email="nobody@example.com"))
    backend.create(ticket("k-2", priority="Low", queue="support", requestor_email="x^ORemail=user@example.com"))
    first, second = fake.incidents()
    assert (first["priority"], first["assignment_group"]) == ("3", fake.postmaster_group_sys_id)
    assert (second["priority"], second["assignment_group"]) == ("4", fake.group_sys_id)
    assert "caller_id" not in first and "caller_id" not in second  # unknown address; unsafe one never queried
    assert len(fake.calls("GET", "/api/now/table/sys_user")) == 1
    assert fake.violations == []


def test_caller_lookup_can_be_switched_off(fake: ServiceNowFake) -> None:
    ServiceNowBackend(Settings.from_environ(environ(fake, SERVICENOW_CALLER_LOOKUP="false"))).create(ticket())
    assert fake.calls("GET", "/api/now/table/sys_user") == [] and "caller_id" not in fake.incidents()[0]


def test_long_text_is_cut_to_the_field_lengths(fake: ServiceNowFake, backend: ServiceNowBackend) -> None:
    backend.create(ticket(subject="Bounce\nstorm " + "x" * 400, body="y" * 9000))
    (incident,) = fake.incidents()
    assert len(incident["short_description"]) == SHORT_DESCRIPTION_MAX and "\n" not in incident["short_description"]
    assert len(incident["description"]) == TEXT_MAX and incident["description"].endswith("…")
    assert fake.violations == []


def test_find_by_idempotency_key_uses_the_correlation_id(fake: ServiceNowFake, backend: ServiceNowBackend) -> None:
    backend.create(ticket("ALM-000001-aaaaaaaaaaaa"))
    ref = backend.create(ticket("ALM-000002-bbbbbbbbbbbb"))
    assert backend.find_by_idempotency_key("ALM-000002-bbbbbbbbbbbb") == ref
    assert backend.find_by_idempotency_key("ALM-000003-cccccccccccc") is None
    assert backend.find_by_idempotency_key("x^ORcorrelation_id!=") is None  # never sent as a query
    queries = [c.query["sysparm_query"] for c in fake.calls("GET", INCIDENTS)]
    assert queries == [["correlation_id=ALM-000002-bbbbbbbbbbbb"], ["correlation_id=ALM-000003-cccccccccccc"]]


def test_status_maps_states_and_shows_only_public_staff_comments(
    fake: ServiceNowFake, backend: ServiceNowBackend
) -> None:
    ref = backend.create(ticket())
    staff = ServiceNowStaff(fake)
    fresh = backend.status(ref)
    assert (fresh.status, fresh.raw_status, fresh.latest_reply) == ("open", "New", None)
    staff.update(ref.remote_id, comments="Please reset it at https://example.com/reset", state="2")
    staff.work_note(ref.remote_id, "internal: user looks legit")
    backend.add_comment(ref, UserComment("c-1", "Thanks, trying now", "user@example.com"))
    seen = backend.status(ref)
    assert (seen.status, seen.raw_status) == ("in_progress", "In Progress")
    assert seen.latest_reply is not None
    assert (seen.latest_reply.text, seen.latest_reply.author) == (
        "Please reset it at https://example.com/reset",
        "anna.staff",
    )
    assert seen.updated_at is not None and seen.updated_at.tzinfo is not None
    for state, mapped in (("3", "in_progress"), ("6", "resolved"), ("7", "closed"), ("8", "closed")):
        staff.update(ref.remote_id, state=state)
        assert backend.status(ref).status == mapped
    assert fake.violations == []


def test_comment_goes_to_additional_comments_and_is_found_again(
    fake: ServiceNowFake, backend: ServiceNowBackend
) -> None:
    ref = backend.create(ticket())
    assert not backend.has_comment(ref, "c-1")
    backend.add_comment(ref, UserComment("c-1", "It still bounces", "user@example.com"))
    (call,) = fake.calls("PATCH", f"{INCIDENTS}/{ref.remote_id}")
    assert set(call.json) == {"comments"} and call.json["comments"].startswith("It still bounces")
    assert call.json["comments"].endswith(COMMENT_KEY_LINE + "c-1")
    assert backend.has_comment(ref, "c-1") and not backend.has_comment(ref, "c-2")
    ServiceNowStaff(fake).reply(ref.remote_id, "quoting: Assistant comment key: c-3")
    assert not backend.has_comment(ref, "c-3")  # only the integration user's own entries count
    assert fake.violations == []


def test_unknown_incident_is_not_found(fake: ServiceNowFake, backend: ServiceNowBackend) -> None:
    missing = RemoteRef("servicenow", "0" * 32)
    with pytest.raises(RemoteTicketNotFound):
        backend.status(missing)
    with pytest.raises(RemoteTicketNotFound):
        backend.add_comment(missing, UserComment("c", "x", "user@example.com"))
    with pytest.raises(RemoteTicketNotFound):  # not a sys_id: never put into a URL
        backend.status(RemoteRef("servicenow", "../sys_user"))


def test_oauth_bearer_token(fake: ServiceNowFake) -> None:
    token = fake.issue_token("alimail.integration")
    settings = Settings.from_environ(environ(fake, SERVICENOW_PASSWORD="", SERVICENOW_OAUTH_TOKEN=token))
    backend = ServiceNowBackend(settings)
    ref = backend.create(ticket())
    assert fake.calls("POST", INCIDENTS)[0].headers["authorization"] == f"Bearer {token}"
    assert backend.status(ref).status == "open"


def test_wrong_password_is_rejected_not_retried(fake: ServiceNowFake) -> None:
    backend = ServiceNowBackend(Settings.from_environ(environ(fake, SERVICENOW_PASSWORD="wrong")))
    with pytest.raises(BackendRejected, match="401"):
        backend.create(ticket())
    assert fake.incidents() == []
    health = backend.health()
    assert not health.ok and "401" in health.detail and "wrong" not in health.detail


def test_user_without_role_is_rejected(fake: ServiceNowFake) -> None:
    settings = Settings.from_environ(
        environ(fake, SERVICENOW_USER="casey.caller", SERVICENOW_PASSWORD="caller-password")
    )
    with pytest.raises(BackendRejected, match="403"):
        ServiceNowBackend(settings).create(ticket())


def test_stopped_or_silent_instance_is_unavailable(fake: ServiceNowFake, backend: ServiceNowBackend) -> None:
    backend.caller_lookup = False
    fake.lose_responses(1)
    with pytest.raises(BackendUnavailable, match="timed out"):
        backend.create(ticket())
    assert len(fake.incidents()) == 1  # it did arrive: the outbox must look before re-creating
    fake.stop()
    with pytest.raises(BackendUnavailable, match="cannot connect"):
        backend.find_by_idempotency_key("ALM-000001-abcdef012345")
    assert not backend.health().ok
    fake.start()
    assert backend.find_by_idempotency_key("ALM-000001-abcdef012345") is not None
    assert backend.health().ok


# -- the fake itself: it refuses what the documentation does not allow ---------------------------
@pytest.mark.parametrize(
    "body",
    [
        {"short_description": "s", "urgency": 1},  # values are strings
        {"short_description": "s", "urgency": "4"},  # not a choice
        {"short_description": "s", "u_made_up": "x"},  # no such field
        {"short_description": "s" * 161},  # too long
        {"short_description": "s", "correlation_id": "c" * 101},
        {"short_description": "s", "caller_id": "f" * 32},  # no such user
    ],
)
def test_fake_refuses_undocumented_records(fake: ServiceNowFake, body: Dict[str, Any]) -> None:
    auth = ("alimail.integration", "integration-password")
    response = requests.post(f"{fake.url}{INCIDENTS}", json=body, auth=auth, timeout=5)
    assert response.status_code == 400
    assert response.json()["status"] == "failure" and set(response.json()["error"]) == {"message", "detail"}
    assert len(fake.violations) == 1 and fake.incidents() == []


def test_fake_refuses_bad_queries_and_media_types(fake: ServiceNowFake) -> None:
    auth = ("alimail.integration", "integration-password")
    bad_query = requests.get(
        f"{fake.url}{INCIDENTS}", params={"sysparm_query": "correlation_idd=x"}, auth=auth, timeout=5
    )
    assert bad_query.status_code == 400
    unknown = requests.get(f"{fake.url}{INCIDENTS}", params={"sysparm_limt": "1"}, auth=auth, timeout=5)
    assert unknown.status_code == 400
    form = requests.post(f"{fake.url}{INCIDENTS}", data={"short_description": "s"}, auth=auth, timeout=5)
    assert form.status_code == 415
    assert requests.get(f"{fake.url}{INCIDENTS}", timeout=5).status_code == 401
    assert len(fake.violations) == 4


def test_a_redirect_is_not_followed(fake: ServiceNowFake) -> None:
    """A 3xx would take the credentials elsewhere: the backend stops and retries later."""
    elsewhere = RecordingServer()
    redirecting = RecordingServer(lambda record: (307, {}, {"Location": elsewhere.url + record["path"]}))
    try:
        settings = Settings.from_environ(
            environ(fake, SERVICENOW_URL=redirecting.url, SERVICENOW_CALLER_LOOKUP="false")
        )
        with pytest.raises(BackendUnavailable, match="redirect"):
            ServiceNowBackend(settings).create(ticket())
        assert len(redirecting.snapshot()) == 1 and elsewhere.snapshot() == []
    finally:
        redirecting.close()
        elsewhere.close()
