"""Attacks on the web chat (channels/webchat.py) against the real Rasa server and action server on local ports,
spoken in socket.io over WebSocket and over long-polling.

Each attack succeeded on the channel as it was before (SECURITY.md, "Web chat"):
- a page on any origin could open a socket (``cors_allowed_origins=[]`` turned python-engineio's check off);
- a client that sent another conversation's id in ``session_request`` joined its room and got its
  replies (and could write into it);
- a token without ``exp`` was accepted forever;
- the employee id ``4/2`` was cleaned to ``42``: another employee's conversation and tickets.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from typing import Any, Dict, List, Optional, Tuple

import jwt
import pytest
import requests

from tests.e2e.servers import (
    WEBCHAT_JWT_KEY,
    WEBCHAT_PORTAL,
    Servers,
    SharedServers,
    identity_config,
    tokens_config,
)
from tests.socketio_client import REPLY_TIMEOUT, Client, Refused

PORTAL = WEBCHAT_PORTAL  # the allowed origin: the intranet portal that embeds the widget
EVIL = "https://evil.example"
JWT_KEY = WEBCHAT_JWT_KEY
TRANSPORTS = ["websocket", "polling"]
QUIET_SECONDS = 3  # how long a client must get nothing after the victim's reply


# The session's servers (tests/conftest.py), with credentials.yml's web chat: session persistence,
# user_uttered / bot_uttered.
@pytest.fixture(scope="module")
def chat(shared_servers: SharedServers) -> Servers:
    """Anonymous web chat with session persistence; only the portal's origin is allowed."""
    return shared_servers.get(tokens_config())


@pytest.fixture(scope="module")
def chat_with_identity(shared_servers: SharedServers) -> Servers:
    """Web chat that requires an identity token (WEBCHAT_JWT_KEY); origins: the default (its own)."""
    return shared_servers.get(identity_config())


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 4 * REPLY_TIMEOUT))


def conversations(servers: Servers) -> Dict[str, List[str]]:
    """sender id → the user texts the tracker store holds for it (what staff, tickets and logs name)."""
    path = servers.trackers_db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT sender_id, data FROM events WHERE type_name = 'user' ORDER BY id").fetchall()
    texts: Dict[str, List[str]] = {}
    for sender, data in rows:
        texts.setdefault(sender, []).append(json.loads(data).get("text") or "")
    return texts


# -- origins -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_page_on_a_foreign_origin_cannot_open_the_chat(chat, transport):
    async def attempt(origin: str) -> Optional[str]:
        client = Client(chat.rasa_url, origin, transport)
        try:
            await client.connect()
        except Refused as error:
            return str(error) or "refused"
        await client.close()
        return None

    for origin in (EVIL, "null", f"{PORTAL}.evil.example", PORTAL.replace("http:", "https:")):
        assert run(attempt(origin)) is not None, f"{origin} connected over {transport}"


def test_a_foreign_origin_gets_no_cors_headers_and_the_portal_does(chat):
    url = f"{chat.rasa_url}/socket.io/?EIO=4&transport=polling"
    refused = requests.get(url, headers={"Origin": EVIL}, timeout=10)
    assert refused.status_code == 400 and "Access-Control-Allow-Origin" not in refused.headers
    preflight = requests.options(url, headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in preflight.headers
    allowed = requests.get(url, headers={"Origin": PORTAL}, timeout=10)
    assert allowed.status_code == 200 and allowed.headers["Access-Control-Allow-Origin"] == PORTAL


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_standard_socketio_protocol_works_from_the_allowed_origin(chat, transport):
    """What a Rasa socket.io widget does: keep the id session_confirm gives and send it back after a reload."""

    async def conversation() -> Tuple[str, str]:
        client = Client(chat.rasa_url, PORTAL, transport)
        await client.connect()
        session_id = await client.session(None)
        await client.say("hi, i forgot my password", session_id)
        await client.reply_with("secure phone number")
        await client.close()
        reloaded = Client(chat.rasa_url, PORTAL, transport)
        await reloaded.connect()
        again = await reloaded.session(session_id)
        await reloaded.say("Yes, one of them", again)  # the guide goes on: the same conversation
        await reloaded.reply_with("Step 1 of 6:")
        await reloaded.close()
        return session_id, again

    session_id, again = run(conversation())
    assert again == session_id


# -- sessions ------------------------------------------------------------------------------------------
async def victims_conversation(victim: Client, marker: str) -> Tuple[str, str]:
    """The victim's session id (its secret) and conversation id (no secret: it is in the tracker store, on
    tickets and in their notifications), after a first message."""
    session_id = await victim.session(None)
    await victim.say(f"hi, i forgot my password ({marker})", session_id)
    await victim.reply_with("secure phone number")
    assert victim.servers is not None
    for _ in range(100):  # Rasa saves the conversation after it has sent the replies
        found = [sender for sender, texts in conversations(victim.servers).items() if any(marker in t for t in texts)]
        if found:
            (conversation,) = found
            return session_id, conversation
        await asyncio.sleep(0.2)
    raise AssertionError("the victim's conversation is not in the tracker store")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_knowing_another_users_conversation_id_does_not_deliver_their_replies(chat, transport):
    async def attack() -> Tuple[str, List[str], List[Tuple[str, Any]]]:
        victim = Client(chat.rasa_url, PORTAL, transport)
        victim.servers = chat
        await victim.connect()
        session_id, conversation = await victims_conversation(victim, f"overheard over {transport}")
        attacker = Client(chat.rasa_url, PORTAL, transport)
        await attacker.connect()
        confirmed = []
        for attempt in (conversation, f"{conversation}.{'A' * 43}"):  # the id, and the id with a forged MAC
            confirmed.append(await attacker.session(attempt))
            await victim.say("how long is the sms code valid", session_id)
            await victim.reply_with("expires after 5 minutes")
        await asyncio.sleep(QUIET_SECONDS)
        overheard = attacker.received()
        await attacker.close()
        await victim.close()
        return conversation, confirmed, overheard

    conversation, confirmed, overheard = run(attack())
    assert not any(session.startswith(conversation) for session in confirmed), confirmed
    assert overheard == [], "the attacker got the victim's replies"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_knowing_another_users_conversation_id_does_not_write_into_it(chat, transport):
    async def attack() -> Tuple[List[str], str]:
        victim = Client(chat.rasa_url, PORTAL, transport)
        victim.servers = chat
        await victim.connect()
        marker = f"written over {transport}"
        _, conversation = await victims_conversation(victim, marker)
        attacker = Client(chat.rasa_url, PORTAL, transport)
        await attacker.connect()
        await attacker.session(conversation)
        await attacker.say(f"attacker {marker}", conversation)
        await attacker.next("bot_uttered")  # handled
        await asyncio.sleep(QUIET_SECONDS)  # and saved
        await attacker.close()
        await victim.close()
        return conversations(chat)[conversation], marker

    victims_texts, marker = run(attack())
    assert f"attacker {marker}" not in victims_texts


# -- identity tokens -------------------------------------------------------------------------------------
def token(claims: Dict[str, Any]) -> str:
    return jwt.encode(claims, JWT_KEY, algorithm="HS256")


def connects(servers: Servers, auth: Dict[str, Any], transport: str = "websocket") -> Optional[str]:
    """The session the server confirms for a connection with `auth`, or None when it refuses it."""

    async def attempt() -> Optional[str]:
        client = Client(servers.rasa_url, None, transport, auth)
        try:
            await client.connect()
        except Refused:
            return None
        try:
            return await client.session(None)
        finally:
            await client.close()

    return run(attempt())


def test_a_valid_token_names_the_employees_conversation(chat_with_identity):
    valid = token({"sub": "E42", "exp": int(time.time()) + 600})
    assert connects(chat_with_identity, {"token": valid}) == "employee-E42"
    assert connects(chat_with_identity, {"token": valid}, "polling") == "employee-E42"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_token_without_exp_is_refused(chat_with_identity, transport):
    # Signed with the right key, but valid forever: a leaked token would never stop working.
    assert connects(chat_with_identity, {"token": token({"sub": "E42"})}, transport) is None


@pytest.mark.parametrize("employee", ["4/2", "4 2", "42\n", "E4<2>"])
def test_an_employee_id_outside_the_allowed_characters_is_refused_not_rewritten(chat_with_identity, employee):
    # Cleaned, "4/2" was employee 42: their conversation, and "status of my tickets" listed their tickets.
    claims = {"employee_id": employee, "exp": int(time.time()) + 600}
    assert connects(chat_with_identity, {"token": token(claims)}) is None
