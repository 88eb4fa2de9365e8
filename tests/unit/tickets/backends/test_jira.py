"""tickets/backends/jira.py against the JSM fake (tests/fakes/jira.py), which checks every request
against Atlassian's published Service Desk API (and records what breaks it in `violations`)."""

from __future__ import annotations

from typing import Any, Dict, Iterator

import pytest
import requests

from core.settings import Settings, SettingsError
from tests.fake_http import RecordingServer
from tests.fakes.jira import API, JiraFake, JiraStaff
from tests.ticket_requests import ticket_request as ticket
from tickets.backends import make_backend
from tickets.backends.base import (
    BackendRejected,
    BackendUnavailable,
    RemoteRef,
    RemoteTicketNotFound,
    UserComment,
)
from tickets.backends.jira import KEY_LINE, SUMMARY_MAX, TEXT_MAX, JiraBackend


def environ(fake: JiraFake, **extra: str) -> Dict[str, str]:
    values = {
        "TICKET_BACKEND": "jira",
        "JIRA_URL": fake.url,
        "JIRA_EMAIL": "assistant@example.com",
        "JIRA_API_TOKEN": "assistant-api-token",
        "JIRA_SERVICE_DESK_ID": fake.service_desk_id,
        "JIRA_REQUEST_TYPE_ID": "10",
        "TICKET_BACKEND_TIMEOUT": "0.5",
    }
    values.update(extra)
    return values


@pytest.fixture()
def fake() -> Iterator[JiraFake]:
    server = JiraFake()
    yield server
    server.stop()


@pytest.fixture()
def backend(fake: JiraFake) -> JiraBackend:
    return JiraBackend(Settings.from_environ(environ(fake)))


def test_make_backend_picks_jira(fake: JiraFake) -> None:
    assert isinstance(make_backend(Settings.from_environ(environ(fake))), JiraBackend)


@pytest.mark.parametrize(
    "missing", ["JIRA_URL", "JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_SERVICE_DESK_ID", "JIRA_REQUEST_TYPE_ID"]
)
def test_every_setting_is_required(fake: JiraFake, missing: str) -> None:
    values = environ(fake)
    del values[missing]
    with pytest.raises(SettingsError, match=missing):
        Settings.from_environ(values)


def test_plain_http_only_to_a_loopback_helpdesk(fake: JiraFake) -> None:
    with pytest.raises(SettingsError, match="JIRA_URL"):
        Settings.from_environ(environ(fake, JIRA_URL="http://jira.example.com/"))


def test_create_sends_the_documented_request(fake: JiraFake, backend: JiraBackend) -> None:
    ref = backend.create(ticket())
    assert ref == RemoteRef("jira", "HELP-1", "HELP-1", f"{fake.url}/servicedesk/customer/portal/1/HELP-1")
    (call,) = fake.calls("POST", API + "/request")
    assert call.headers["content-type"].startswith("application/json")
    assert call.json["serviceDeskId"] == "1" and call.json["requestTypeId"] == "10"
    values = call.json["requestFieldValues"]
    assert values["summary"] == "Forgotten Password [ALM-000001]"
    assert values["priority"] == {"name": "High"}
    assert values["description"].startswith("Reference: ALM-000001")
    assert values["description"].endswith("\n\n" + KEY_LINE + "ALM-000001-abcdef012345")
    assert fake.violations == []


def test_queue_and_priority_mapping(fake: JiraFake) -> None:
    backend = JiraBackend(Settings.from_environ(environ(fake, JIRA_REQUEST_TYPE_ID_POSTMASTER="11")))
    backend.create(ticket("k-1", queue="postmaster", priority="Low"))
    backend.create(ticket("k-2", queue="support", priority="Medium"))
    first, second = fake.calls("POST", API + "/request")
    assert (first.json["requestTypeId"], first.json["requestFieldValues"]["priority"]) == ("11", {"name": "Low"})
    assert (second.json["requestTypeId"], second.json["requestFieldValues"]["priority"]) == ("10", {"name": "Medium"})


def test_priority_not_sent_when_switched_off(fake: JiraFake) -> None:
    fake.request_type_fields.pop("priority")  # a request type without the Priority field
    backend = JiraBackend(Settings.from_environ(environ(fake, JIRA_SEND_PRIORITY="false")))
    backend.create(ticket())
    assert "priority" not in fake.calls("POST", API + "/request")[0].json["requestFieldValues"]
    assert fake.violations == []


def test_long_text_is_cut_but_keeps_the_key_line(fake: JiraFake, backend: JiraBackend) -> None:
    backend.create(ticket(subject="Bounce\nstorm " + "x" * 400, body="y" * 40000))
    values = fake.calls("POST", API + "/request")[0].json["requestFieldValues"]
    assert len(values["summary"]) == SUMMARY_MAX and "\n" not in values["summary"]
    assert len(values["description"]) <= TEXT_MAX
    assert values["description"].endswith(KEY_LINE + "ALM-000001-abcdef012345")
    assert fake.violations == []


def test_find_by_idempotency_key_matches_exactly(fake: JiraFake, backend: JiraBackend) -> None:
    backend.create(ticket("ALM-000001-aaaaaaaaaaaa"))
    ref = backend.create(ticket("ALM-000002-bbbbbbbbbbbb"))
    assert backend.find_by_idempotency_key("ALM-000002-bbbbbbbbbbbb") == ref
    assert backend.find_by_idempotency_key("ALM-000002-bbbbbbbbbbb") is None  # a prefix is not the key
    assert backend.find_by_idempotency_key("ALM-000003-cccccccccccc") is None
    listing = fake.calls("GET", API + "/request")[0]
    assert listing.query["requestOwnership"] == ["OWNED_REQUESTS"] and listing.query["serviceDeskId"] == ["1"]


def test_find_pages_through_the_listing(fake: JiraFake, backend: JiraBackend) -> None:
    first = backend.create(ticket("k-first"))
    for number in range(60):
        backend.create(ticket(f"k-{number}"))
    assert backend.find_by_idempotency_key("k-first") == first  # on the second page of 50
    assert len(fake.calls("GET", API + "/request")) == 2


def test_status_maps_the_status_category_and_reads_the_latest_public_reply(
    fake: JiraFake, backend: JiraBackend
) -> None:
    ref = backend.create(ticket())
    staff = JiraStaff(fake)
    fresh = backend.status(ref)
    assert (fresh.status, fresh.raw_status, fresh.latest_reply) == ("open", "Waiting for support", None)
    staff.reply(ref.remote_id, "Please reset it at https://example.com/reset")
    staff.reply(ref.remote_id, "internal: user looks legit", public=False)
    backend.add_comment(ref, UserComment("c-1", "Thanks, trying now", "user@example.com"))
    staff.transition(ref.remote_id, "In progress")
    seen = backend.status(ref)
    assert (seen.status, seen.raw_status) == ("in_progress", "In progress")
    assert seen.latest_reply is not None
    assert (seen.latest_reply.text, seen.latest_reply.author) == (
        "Please reset it at https://example.com/reset",
        "Anna Agent",
    )
    assert seen.updated_at is not None and seen.updated_at.tzinfo is not None
    staff.transition(ref.remote_id, "Resolved")
    assert backend.status(ref).status == "resolved"
    assert fake.violations == []


def test_comment_is_public_and_found_again(fake: JiraFake, backend: JiraBackend) -> None:
    ref = backend.create(ticket())
    assert not backend.has_comment(ref, "c-1")
    backend.add_comment(ref, UserComment("c-1", "It still bounces", "user@example.com"))
    (call,) = fake.calls("POST", API + f"/request/{ref.remote_id}/comment")
    assert call.json["public"] is True and call.json["body"].startswith("It still bounces")
    assert backend.has_comment(ref, "c-1") and not backend.has_comment(ref, "c-2")
    # A staff comment carrying the same line is not ours: only the assistant's own comments count.
    JiraStaff(fake).reply(ref.remote_id, "quote:\n\nAssistant comment key: c-3")
    assert not backend.has_comment(ref, "c-3")


def test_unknown_request_is_not_found(fake: JiraFake, backend: JiraBackend) -> None:
    with pytest.raises(RemoteTicketNotFound):
        backend.status(RemoteRef("jira", "HELP-99"))
    with pytest.raises(RemoteTicketNotFound):
        backend.add_comment(RemoteRef("jira", "HELP-99"), UserComment("c", "x", "user@example.com"))
    with pytest.raises(RemoteTicketNotFound):  # not a key: never put into a URL
        backend.status(RemoteRef("jira", "../servicedesk/1"))


def test_another_customers_request_is_not_visible(fake: JiraFake, backend: JiraBackend) -> None:
    other = fake.add_account("other@example.com", "other-token", "customer", "Other")
    response = requests.post(
        f"{fake.url}{API}/request",
        json={"serviceDeskId": "1", "requestTypeId": "10", "requestFieldValues": {"summary": "theirs"}},
        auth=(other.email, other.token),
        timeout=5,
    )
    assert response.status_code == 201
    with pytest.raises(RemoteTicketNotFound):
        backend.status(RemoteRef("jira", response.json()["issueKey"]))


def test_wrong_token_is_rejected_not_retried(fake: JiraFake) -> None:
    backend = JiraBackend(Settings.from_environ(environ(fake, JIRA_API_TOKEN="wrong")))
    with pytest.raises(BackendRejected, match="401"):
        backend.create(ticket())
    assert fake.created_requests() == []
    health = backend.health()
    assert not health.ok and "401" in health.detail and "wrong" not in health.detail


def test_unknown_request_type_is_rejected(fake: JiraFake) -> None:
    backend = JiraBackend(Settings.from_environ(environ(fake, JIRA_REQUEST_TYPE_ID="99")))
    with pytest.raises(BackendRejected, match="400"):
        backend.create(ticket())


def test_stopped_or_silent_helpdesk_is_unavailable(fake: JiraFake, backend: JiraBackend) -> None:
    fake.lose_responses(1)
    with pytest.raises(BackendUnavailable, match="timed out"):
        backend.create(ticket())
    assert len(fake.created_requests()) == 1  # it did arrive: the outbox must look before re-creating
    fake.stop()
    with pytest.raises(BackendUnavailable, match="cannot connect"):
        backend.find_by_idempotency_key("ALM-000001-abcdef012345")
    assert not backend.health().ok
    fake.start()
    assert backend.find_by_idempotency_key("ALM-000001-abcdef012345") is not None
    assert backend.health().ok


# -- the fake itself: it refuses what the documentation does not allow ---------------------------
@pytest.mark.parametrize(
    "body, status",
    [
        ({"serviceDeskId": 1, "requestTypeId": "10", "requestFieldValues": {"summary": "s"}}, 400),  # a number
        ({"serviceDeskId": "1", "requestTypeId": "10", "requestFieldValues": {}}, 400),  # no summary
        ({"serviceDeskId": "1", "requestTypeId": "10", "requestFieldValues": {"summary": "a\nb"}}, 400),
        ({"serviceDeskId": "1", "requestTypeId": "10", "requestFieldValues": {"summary": "s", "labels": ["x"]}}, 400),
        (
            {"serviceDeskId": "1", "requestTypeId": "10", "requestFieldValues": {"summary": "s", "priority": "High"}},
            400,
        ),
        ({"serviceDeskId": "1", "requestTypeId": "10", "summary": "s", "requestFieldValues": {"summary": "s"}}, 400),
    ],
)
def test_fake_refuses_undocumented_create_bodies(fake: JiraFake, body: Dict[str, Any], status: int) -> None:
    response = requests.post(
        f"{fake.url}{API}/request", json=body, auth=("assistant@example.com", "assistant-api-token"), timeout=5
    )
    assert response.status_code == status
    assert set(response.json()) == {"errorMessage", "i18nErrorMessage"}
    assert len(fake.violations) == 1 and fake.created_requests() == []


def test_fake_refuses_missing_auth_and_form_bodies(fake: JiraFake) -> None:
    body = {"serviceDeskId": "1", "requestTypeId": "10", "requestFieldValues": {"summary": "s"}}
    assert requests.post(f"{fake.url}{API}/request", json=body, timeout=5).status_code == 401
    form = requests.post(
        f"{fake.url}{API}/request", data={"x": "y"}, auth=("assistant@example.com", "assistant-api-token"), timeout=5
    )
    assert form.status_code == 415
    assert len(fake.violations) == 2


def test_a_redirect_is_not_followed(fake: JiraFake) -> None:
    """A 3xx would take the basic-auth credentials elsewhere: the backend stops and retries later."""
    elsewhere = RecordingServer()
    redirecting = RecordingServer(lambda record: (302, {}, {"Location": elsewhere.url + record["path"]}))
    try:
        settings = Settings.from_environ(environ(fake, JIRA_URL=redirecting.url))
        with pytest.raises(BackendUnavailable, match="redirect"):
            JiraBackend(settings).create(ticket())
        assert len(redirecting.snapshot()) == 1 and elsewhere.snapshot() == []
    finally:
        redirecting.close()
        elsewhere.close()
