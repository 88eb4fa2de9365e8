"""End to end, production profile: PostgreSQL trackers and tickets, Redis locks, two Rasa servers.

Uses the machine's PostgreSQL and Redis: PRODUCTION_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres; the user must be allowed to create databases)
and PRODUCTION_TEST_REDIS_URL (default redis://127.0.0.1:6379/1). The session creates a
throw-away database `alimail_test_<random>` (trackers in `public`, tickets in schema
`tickets`) and a Redis key prefix of its own, and removes both afterwards, also on failure
(tests/conftest.py; tests/security/test_dingtalk_and_slack.py uses the same servers).

One action server and two Rasa servers run the real endpoints.production.yml. Twenty
conversations run at once, each turn going to the other server (as a load balancer may send
them); every reply is checked turn by turn, every message and reply must be in PostgreSQL in
order, and each confirmation must give exactly one ticket. Unreachable stores must stop the
preflight, scripts/run.sh and Rasa itself quickly, with exit code 1 and the reason.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

import pytest
from sqlalchemy import create_engine, text

from core.knowledge import knowledge
from tests.e2e.servers import RASA, ROOT, ServerPool, Stores, conversation_id, free_port, model_path
from tests.e2e.test_rest_conversations import button_payload
from tickets.store import TicketStore

CONVERSATIONS = 20
TICKET = re.compile(r"Your ticket \*\*(ALM-\d{6})\*\* is open in the support queue")


@pytest.fixture(scope="module")
def stores(production_stores: Stores) -> Stores:
    """A throw-away PostgreSQL database and Redis key prefix, dropped afterwards whatever happens
    (the session's: tests/conftest.py)."""
    return production_stores


@pytest.fixture(scope="module")
def pool(production_servers: ServerPool) -> ServerPool:
    """The session's production-profile servers (shared with tests/security/test_dingtalk_and_slack.py)."""
    return production_servers


# -- unreachable stores: refuse quickly, with the reason ---------------------------------------------
BROKEN = {
    "tracker-db-closed-port": (
        {"TRACKER_DB_HOST": "127.0.0.1", "TRACKER_DB_PORT": "1"},
        "Tracker store PostgreSQL at 127.0.0.1:1 (database {db}, user {user}) is unreachable: "
        "connection refused. Start it or fix TRACKER_DB_HOST / TRACKER_DB_PORT.",
    ),
    "redis-closed-port": (
        {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "1"},
        "Lock store Redis at 127.0.0.1:1 (db {redis_db}) is unreachable: connection refused. "
        "Start it or fix REDIS_HOST / REDIS_PORT.",
    ),
}


def broken_env(stores: Stores, case: str) -> Tuple[Dict[str, str], str]:
    change, message = BROKEN[case]
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="2",
        **stores.env,
        ACTION_SERVER_URL="http://127.0.0.1:9/webhook",
    )
    env.update(change)
    return env, message.format(
        db=stores.env["TRACKER_DB_NAME"],
        user=stores.env["TRACKER_DB_USER"] or "default",
        redis_db=stores.env["REDIS_DB"],
    )


def nothing_listens_on(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_preflight_refuses_an_unreachable_store(stores, case):
    env, message = broken_env(stores, case)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "tools/check_stores.py", "--endpoints", "endpoints.production.yml", "--require-shared"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr
    assert result.stderr.count("unreachable") == 1  # the other stores are fine and said so
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_run_sh_production_profile_refuses_before_starting_anything(stores, case):
    env, message = broken_env(stores, case)
    ports = {"RASA_PORT": free_port(), "ACTION_PORT": free_port(), "TICKETS_API_PORT": free_port()}
    env.update({name: str(port) for name, port in ports.items()}, ALIMAIL_PROFILE="production", MODEL=model_path())
    env.pop("ACTION_SERVER_URL")  # run.sh derives it from ACTION_HOST/ACTION_PORT
    started = time.monotonic()
    result = subprocess.run(["scripts/run.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr and "Not starting" in result.stderr
    assert "Action server:" not in result.stdout  # refused before starting any server
    assert all(nothing_listens_on(port) for port in ports.values())
    assert time.monotonic() - started < 30


def test_rasa_itself_refuses_unreachable_stores(stores, tmp_path):
    """However Rasa is started with endpoints.production.yml, the strict stores stop it (exit 1)."""

    def start(case: str) -> Tuple[str, subprocess.CompletedProcess, float, str]:
        env, message = broken_env(stores, case)
        started = time.monotonic()
        result = subprocess.run(
            [
                *RASA,
                "run",
                "--model",
                model_path(),
                "--interface",
                "127.0.0.1",
                "--port",
                str(free_port()),
                "--credentials",
                "credentials.yml",
                "--endpoints",
                "endpoints.production.yml",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        return case, result, time.monotonic() - started, message

    with ThreadPoolExecutor(max_workers=len(BROKEN)) as executor:
        outcomes = list(executor.map(start, sorted(BROKEN)))
    for case, result, seconds, message in outcomes:
        output = result.stdout + result.stderr
        print(f"[production profile] rasa run with {case}: exit {result.returncode} after {seconds:.1f}s")
        assert result.returncode == 1, output[-3000:]
        assert f"StoreUnavailableError: {message}" in output
        assert "Rasa server is up and running" not in output
        assert seconds < 150


# -- twenty conversations over two Rasa servers ---------------------------------------------------------
def expected_turns(email: str) -> List[Tuple[Any, List[str]]]:
    """(message, [a piece of each expected reply, in order]); a message None means the button below."""
    steps = [step.text.get("en") for step in knowledge().problem("forgot_password").steps]
    return [
        ("hi", ["Hi! I'm the Alibaba Mail security assistant."]),
        (
            "I forgot my password",
            [
                "**Forgotten Password**\nLikely cause:",
                "If neither SMS nor security questions are available",
                "Is a secure phone number or are security questions set up for your account?",
            ],
        ),
        ("/affirm", [f"Step 1 of 6: {steps[0]}"]),
        *[("/next_step", [f"Step {n} of 6: {steps[n - 1]}"]) for n in range(2, 7)],
        ("/next_step", ["Now check that it worked:\n- After reset, log in successfully using the new password"]),
        ("/deny", ["Sorry that it didn't work for you."]),
        ("Open a ticket", ["OK, let's open a support ticket.", "Which email address can support reach you at?"]),
        (email, ["Here's the ticket I'll open:\n- Problem: Forgotten Password"]),
        ("Yes, open it", ["Your ticket **ALM-"]),
    ]


BUTTONS = {"Open a ticket", "Yes, open it"}  # sent as the payload of the button with this title


@dataclass
class Conversation:
    sender: str
    email: str
    sent: List[str]
    replies: List[str]
    ticket_id: str


def converse(pool: ServerPool, index: int, run_id: str) -> Conversation:
    sender, email = f"prod-{run_id}-{index:02d}", f"user{index:02d}@corp.example"
    sent: List[str] = []
    received: List[str] = []
    replies: List[Dict[str, Any]] = []
    for turn, (message, expected) in enumerate(expected_turns(email)):
        if message in BUTTONS:
            message = button_payload(replies, message)
        via = (index + turn) % 2  # alternate servers, half of the conversations starting on each
        replies = pool.say(sender, message, via=via)
        texts = [reply.get("text") or "" for reply in replies]
        assert len(texts) == len(expected) and all(piece in text for piece, text in zip(expected, texts)), (
            f"{sender} turn {turn} ({message!r} via server {via}): expected {expected}, got {texts}"
        )
        sent.append(message)
        received.extend(texts)
    match = TICKET.search(received[-1])
    assert match and email in received[-1], received[-1]
    return Conversation(sender, email, sent, received, match.group(1))


def rest_messages(bot_event: Dict[str, Any]) -> List[str]:
    """The REST channel's messages for one `bot` event: with buttons one message, else one per paragraph."""
    text_ = bot_event.get("text") or ""
    if (bot_event.get("data") or {}).get("buttons"):
        return [text_]
    return text_.strip().split("\n\n") if text_ else []


def tracker_texts(trackers_url: str, senders: List[str]) -> Dict[str, Tuple[List[str], List[str]]]:
    """sender → (user texts, bot messages as the REST channel sends them), in the order of the events table."""
    engine = create_engine(trackers_url)
    result: Dict[str, Tuple[List[str], List[str]]] = {sender: ([], []) for sender in senders}
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT sender_id, type_name, data FROM events WHERE sender_id = ANY(:senders) ORDER BY id"),
                {"senders": senders},
            )
            for sender, kind, data in rows:
                if kind == "user":
                    result[sender][0].append(json.loads(data).get("text") or "")
                elif kind == "bot":
                    result[sender][1].extend(rest_messages(json.loads(data)))
    finally:
        engine.dispose()
    return result


def test_twenty_conversations_alternating_between_two_rasa_servers(pool, stores):
    store = TicketStore(stores.tickets_url)
    earlier = {t.id for t in store.list(limit=1000)}  # other tests' tickets on the session's servers
    run_id = uuid.uuid4().hex[:8]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CONVERSATIONS) as executor:
        conversations = list(executor.map(lambda n: converse(pool, n, run_id), range(CONVERSATIONS)))
    seconds = time.monotonic() - started
    turns = sum(len(c.sent) for c in conversations)
    print(f"[production profile] {CONVERSATIONS} conversations, {turns} turns over 2 Rasa servers in {seconds:.1f}s")
    assert pool.alive()

    # Every message and every reply is in the PostgreSQL tracker store, in order.
    stored = tracker_texts(stores.trackers_url, [conversation_id(c.sender) for c in conversations])
    for conversation in conversations:
        user_texts, bot_texts = stored[conversation_id(conversation.sender)]
        assert user_texts == conversation.sent, conversation.sender
        assert bot_texts == conversation.replies, conversation.sender

    # Exactly one ticket per confirmation, in the tickets schema.
    ids = [c.ticket_id for c in conversations]
    assert len(set(ids)) == CONVERSATIONS
    for conversation in conversations:
        (ticket,) = store.list_for_sender(conversation_id(conversation.sender), "rest")
        assert (ticket.id, ticket.contact_email, ticket.problem) == (
            conversation.ticket_id,
            conversation.email,
            "forgot_password",
        )
    assert sorted(t.id for t in store.list(limit=1000) if t.id not in earlier) == sorted(ids)
    store.engine.dispose()


def test_both_servers_take_the_conversation_lock_in_redis(pool, stores):
    """A lock held in Redis under our prefix (as by a third process) delays either server's reply."""
    from rasa.core.lock import TicketLock

    hold_seconds = 4.0

    def probe(via: int) -> float:
        sender = f"lock-probe-{uuid.uuid4().hex[:8]}-{via}"
        lock = TicketLock(conversation_id(sender))  # Rasa locks the conversation, REST's `rest:` id
        lock.issue_ticket(hold_seconds)  # ticket 0, held for hold_seconds
        stores.redis.set(f"{stores.key_prefix}:lock:{conversation_id(sender)}", lock.dumps())
        started = time.monotonic()
        replies = pool.say(sender, "hi", via=via)
        assert "Alibaba Mail security assistant" in replies[0]["text"]
        return time.monotonic() - started

    with ThreadPoolExecutor(max_workers=2) as executor:
        waits = list(executor.map(probe, [0, 1]))
    print(
        f"[production profile] replies behind a {hold_seconds:.0f}s Redis lock took {waits[0]:.1f}s and {waits[1]:.1f}s"
    )
    assert all(wait >= hold_seconds - 1.5 for wait in waits), waits
    assert not list(stores.redis.scan_iter(f"{stores.key_prefix}:lock:*"))  # released afterwards
