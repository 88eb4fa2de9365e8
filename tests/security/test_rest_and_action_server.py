"""Attacks on who is speaking (issue 13, findings 1 and 2), against the real Rasa server and action
server on free local ports (tests/e2e/servers.py), with the trained model (ALIMAIL_MODEL):

- a REST body that names another channel and another channel's sender, or carries a "verified"
  identity, is not believed;
- with REST_API_TOKEN set, REST needs the bearer token;
- the action server refuses calls without ACTION_SERVER_TOKEN;
- the production profile, and REST or the action server on an exposed interface, refuse to start
  without their tokens.

Each test says in its docstring why it failed on the code before issue 13.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from typing import Any, Dict, List

import pytest
import requests
import sqlalchemy as sa

from core import phrases
from tests.e2e.servers import (
    ACTION_SERVER_TOKEN,
    REST_API_TOKEN,
    ROOT,
    Servers,
    SharedServers,
    conversation_id,
    free_port,
    model_path,
    tokens_config,
)
from tests.e2e.test_rest_conversations import text_of
from tickets.store import NewTicket, Ticket, TicketStore

REST_TOKEN = REST_API_TOKEN  # made up per session (tests/e2e/servers.py)
ACTION_TOKEN = ACTION_SERVER_TOKEN
VICTIM = "employee-42"  # the web chat's conversation id for employee 42 (a JWT's `sub`)
STAFF_NOTE = "Mailbox unlocked after the phone check; new password sent to the manager"
SPOOFED_EMAIL = "ceo@corp.example"
REFUSAL_TIMEOUT = 60  # a refused start takes seconds; on the old code these servers simply started


@pytest.fixture(scope="module")
def servers(shared_servers: SharedServers) -> Servers:
    """Rasa (credentials.yml's channels) and the action server, both with their tokens (the session's
    servers of this configuration, shared with tests/security/test_webchat.py)."""
    return shared_servers.get(tokens_config())


def post(servers: Servers, body: Any, headers: Dict[str, str]) -> requests.Response:
    return requests.post(f"{servers.rasa_url}/webhooks/rest/webhook", json=body, headers=headers, timeout=60)


def say(servers: Servers, body: Dict[str, Any]) -> List[Dict[str, Any]]:
    response = post(servers, body, servers.rest_headers())
    assert response.status_code == 200, response.text
    return response.json()


def open_ticket(servers: Servers, channel: str, sender: str) -> Ticket:
    """A ticket as the channel's conversation would have opened it, with a staff note."""
    store = TicketStore(servers.tickets_db_url)
    ticket, _ = store.create(
        NewTicket(
            idempotency_key=uuid.uuid4().hex,
            priority="high",
            queue="support",
            contact_email="li.wei@corp.example",
            description="My mailbox is locked",
            channel=channel,
            sender_id=sender,
            problem="forgot_password",
        )
    )
    store.comment(ticket.id, f"{STAFF_NOTE} ({channel})", author="pm-anna")
    store.engine.dispose()
    return ticket


def stored_events(servers: Servers, conversation: str) -> List[Dict[str, Any]]:
    engine = sa.create_engine(servers.trackers_db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT data FROM events WHERE sender_id = :sender ORDER BY id"), {"sender": conversation}
            )
            return [json.loads(row[0]) for row in rows]
    finally:
        engine.dispose()


# -- finding 1: REST lets the caller choose who it is ------------------------------------------------------
def test_rest_cannot_list_or_read_another_channels_tickets_by_naming_its_channel_and_sender(servers):
    """Web chat, Slack and DingTalk tickets of `employee-42` stay invisible to a REST body that says
    `"sender": "employee-42", "input_channel": "socketio"`; REST's own ticket is listed.

    Before: Rasa's REST channel stored the body's `input_channel`, the ticket actions took it as
    the channel, and the reply listed employee 42's web-chat ticket with the latest staff note
    (and `status of ALM-…` showed it)."""
    others = [open_ticket(servers, channel, VICTIM) for channel in ("socketio", "slack", "dingtalk")]
    own = open_ticket(servers, "rest", conversation_id(VICTIM))  # what a REST conversation of that name owns
    for channel in ("socketio", "slack", "dingtalk", "rest", None):
        body: Dict[str, Any] = {"sender": VICTIM, "message": "what's the status of my ticket"}
        if channel:
            body["input_channel"] = channel
        listed = text_of(say(servers, body))
        assert own.id in listed, listed  # the action ran, for the REST conversation
        for ticket in others:
            assert ticket.id not in listed, (channel, listed)
        assert STAFF_NOTE + " (rest)" in listed and "(socketio)" not in listed and "(slack)" not in listed
        for ticket in others:
            body["message"] = f"status of {ticket.id}"
            asked = text_of(say(servers, body))
            assert phrases.say("ticket_not_found", "en", id=ticket.id) in asked and STAFF_NOTE not in asked, asked
    # Nothing was written into employee 42's web chat conversation.
    assert stored_events(servers, VICTIM) == []
    events = stored_events(servers, conversation_id(VICTIM))
    assert {e["input_channel"] for e in events if e["event"] == "user"} == {"rest"}


def test_a_client_sent_verified_identity_is_not_taken_as_verified(servers):
    """`metadata.verified_identity.email` in a REST body neither fills the ticket form's email
    nor reaches the tracker store: the form asks for the address.

    Before: the REST channel stored the body's metadata as given, and the ticket form took its
    `verified_identity.email` as the signed-in employee's address and skipped the question."""
    sender = f"spoof-{uuid.uuid4().hex[:8]}"
    metadata = {"verified_identity": {"employee_id": "1", "email": SPOOFED_EMAIL}}
    replies = say(servers, {"sender": sender, "message": "open a ticket", "metadata": metadata})
    assert phrases.say("ask_email", "en") in text_of(replies), text_of(replies)
    assert SPOOFED_EMAIL not in text_of(replies)
    # Nor on a later turn of the form, which extracts the slot again.
    replies = say(servers, {"sender": sender, "message": "my mailbox is locked", "metadata": metadata})
    assert SPOOFED_EMAIL not in text_of(replies)
    events = stored_events(servers, conversation_id(sender))
    assert [e for e in events if e["event"] == "user"], "the conversation is stored under its REST id"
    assert not any("verified_identity" in json.dumps(e) for e in events)


def test_rest_needs_the_bearer_token_when_one_is_set(servers):
    """With REST_API_TOKEN set: no header or a wrong token is 401 (JSON error) and reaches nothing;
    the right token is answered.

    Before: the REST channel had no token; every request was answered (200)."""
    sender = f"token-{uuid.uuid4().hex[:8]}"
    body = {"sender": sender, "message": "hello"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": REST_TOKEN}, {"X-Token": REST_TOKEN}):
        response = post(servers, body, headers)
        assert response.status_code == 401, (headers, response.status_code)
        assert response.json() == {"error": "missing or invalid bearer token"}
    assert stored_events(servers, conversation_id(sender)) == []
    response = post(servers, body, {"Authorization": f"Bearer {REST_TOKEN}"})
    assert response.status_code == 200 and response.json(), response.text
    assert all(reply["recipient_id"] == sender for reply in response.json())


@pytest.mark.parametrize(
    "raw",
    [b"[]", b'"hi"', b"not json", b'{"message": "no sender"}', b'{"sender": "me", "message": ["x"]}'],
)
def test_a_malformed_rest_body_is_a_400(servers, raw):
    """Before: a body that is JSON but not an object (`[]`, `"hi"`) was a 500 with Sanic's error page
    (Rasa's channel calls `.get` on it), and a missing sender went into a conversation named `default`."""
    response = requests.post(
        f"{servers.rasa_url}/webhooks/rest/webhook",
        data=raw,
        headers={**servers.rest_headers(), "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 400, (raw, response.status_code, response.text[:200])
    assert response.json()["error"]
    assert stored_events(servers, "default") == []


# -- finding 2: the action server accepts anyone -----------------------------------------------------------
def forged_call(action: str, sender: str, channel: str) -> Dict[str, Any]:
    """A made-up tracker, as any pod could POST it to the action server."""
    latest = {"text": "/ticket_status", "intent": {"name": "ticket_status", "confidence": 1.0}, "entities": []}
    return {
        "next_action": action,
        "sender_id": sender,
        "tracker": {
            "sender_id": sender,
            "slots": {"language": "en"},
            "latest_message": latest,
            "events": [{"event": "user", "text": latest["text"], "parse_data": latest, "input_channel": channel}],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {},
        "version": "3.6.2",
    }


def test_the_action_server_refuses_calls_without_the_token(servers):
    """A forged `action_ticket_status` call for employee 42's web chat is 401 without the token (or
    with a wrong one); Rasa's calls carry it (the REST tests above ran actions); /health stays open.

    Before: the action server answered anyone, with the ticket and its staff note."""
    ticket = open_ticket(servers, "socketio", VICTIM)
    call = forged_call("action_ticket_status", VICTIM, "socketio")
    url = f"{servers.action_url}/webhook"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ACTION_TOKEN}):
        response = requests.post(url, json=call, headers=headers, timeout=60)
        assert response.status_code == 401, (headers, response.status_code)
        assert ticket.id not in response.text and STAFF_NOTE not in response.text
    assert requests.get(f"{servers.action_url}/actions", timeout=60).status_code == 401
    assert requests.get(f"{servers.action_url}/health", timeout=60).status_code == 200
    response = requests.post(url, json=call, headers={"Authorization": f"Bearer {ACTION_TOKEN}"}, timeout=60)
    assert response.status_code == 200 and ticket.id in response.text  # Rasa's own call, with the token


# -- starts that must refuse ---------------------------------------------------------------------------
def clean_env(**values: str) -> Dict[str, str]:
    """This environment without the tokens, the profile or the servers' addresses, plus `values`."""
    names = ("ACTION_SERVER_TOKEN", "REST_API_TOKEN", "ALIMAIL_PROFILE", "ACTION_HOST", "RASA_HOST")
    env = {name: value for name, value in os.environ.items() if name not in names}
    env.pop("TICKET_WEBHOOK_URL", None)
    env.update(TF_CPP_MIN_LOG_LEVEL="2", **values)
    return env


def refused(cmd: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess:
    """Run `cmd` (its own process group) expecting it to exit by itself; a start that keeps running
    (the old code's) is killed with all its children and fails the test."""
    process = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=REFUSAL_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{cmd[:4]} started instead of refusing")
    return subprocess.CompletedProcess(cmd, process.returncode, stdout, stderr)


def nothing_listens(*ports: int) -> bool:
    for port in ports:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return False
    return True


def test_run_sh_production_profile_refuses_without_the_action_server_token():
    """Before: run.sh's production profile did not know ACTION_SERVER_TOKEN; it went on to the store
    check (here a closed PostgreSQL port, so it stopped there with another message) and, with the
    stores up, started an action server that accepted anyone."""
    ports = {"RASA_PORT": free_port(), "ACTION_PORT": free_port(), "TICKETS_API_PORT": free_port()}
    env = clean_env(ALIMAIL_PROFILE="production", MODEL=model_path(), TRACKER_DB_PORT="1")
    env.update({name: str(port) for name, port in ports.items()})
    result = refused(["scripts/run.sh"], env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Not starting" in result.stderr and "ACTION_SERVER_TOKEN" in result.stderr, result.stderr
    assert "Action server:" not in result.stdout and nothing_listens(*ports.values())


@pytest.mark.parametrize(
    "args",
    [
        ["actions", "--actions", "actions", "--port", "{port}"],
        ["run", "--model", "{model}", "--interface", "127.0.0.1", "--port", "{port}", "--endpoints", "{endpoints}"],
    ],
    ids=["action-server", "rasa"],
)
def test_the_production_profile_refuses_to_start_a_server_without_the_action_server_token(args):
    """Before: `tools.serve actions` did not exist (Rasa's CLI rejected it) and the action server was
    rasa_sdk's own command, which needs no token; Rasa started with endpoints that sent none."""
    port = free_port()
    values = {"port": str(port), "model": model_path(), "endpoints": str(ROOT / "endpoints.production.yml")}
    env = clean_env(ALIMAIL_PROFILE="production", TRACKER_DB_PORT="1", REDIS_PORT="1")
    env.update(ACTION_SERVER_URL="http://127.0.0.1:9/webhook", TRACKER_DB_HOST="127.0.0.1", REDIS_HOST="127.0.0.1")
    result = refused([sys.executable, "-m", "tools.serve", *(a.format(**values) for a in args)], env)
    assert result.returncode != 0 and "Not starting" in result.stderr, result.stderr
    assert "ACTION_SERVER_TOKEN is unset" in result.stderr and nothing_listens(port)


def test_rest_on_an_exposed_interface_refuses_to_start_without_a_token():
    """Rasa with the REST channel on 0.0.0.0 and no REST_API_TOKEN stops with the reason; so does
    run.sh with RASA_HOST=0.0.0.0, before starting anything.

    Before: both started, serving REST to the whole network (and trusting its bodies)."""
    port = free_port()
    cmd = [sys.executable, "-m", "tools.serve", "run", "--model", model_path(), "--interface", "0.0.0.0"]
    result = refused([*cmd, "--port", str(port), "--credentials", "credentials.yml"], clean_env())
    assert result.returncode != 0 and "REST_API_TOKEN" in result.stderr, result.stderr
    assert nothing_listens(port)

    ports = {"RASA_PORT": free_port(), "ACTION_PORT": free_port(), "TICKETS_API_PORT": free_port()}
    env = clean_env(MODEL=model_path(), RASA_HOST="0.0.0.0", **{name: str(p) for name, p in ports.items()})
    result = refused(["scripts/run.sh"], env)
    assert result.returncode == 2 and "REST_API_TOKEN" in result.stderr, result.stdout + result.stderr
    assert "Action server:" not in result.stdout and nothing_listens(*ports.values())


def test_the_action_server_on_an_exposed_interface_refuses_to_start_without_the_token():
    """Before: rasa_sdk's own command served anyone on SANIC_HOST (0.0.0.0 in the containers)."""
    port = free_port()
    cmd = [sys.executable, "-m", "tools.serve", "actions", "--actions", "actions", "--host", "0.0.0.0"]
    result = refused([*cmd, "--port", str(port)], clean_env())
    assert result.returncode != 0 and "ACTION_SERVER_TOKEN" in result.stderr, result.stderr
    assert nothing_listens(port)
