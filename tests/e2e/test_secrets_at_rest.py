"""End to end: a password or code a user types is written nowhere in clear (issue 12).

The real Rasa server and action server, run from a fresh copy of the project (so that whatever
they write beside their code is seen too) with TMPDIR in the test's folder, hold conversations
over REST and over web chat (socket.io, WebSocket and long-polling, from the server's own origin)
in which users type fifteen messages with secrets in English and Chinese: passwords, verification
codes, a PIN, app passwords, an API key, a card number. A ticket is opened over REST with
secrets in its description, and its staff notification goes to a local fake webhook (JSON).

Then, with the servers stopped (logs flushed, databases closed), every byte they wrote is read:
every file new or changed under the test's folder (the masking tracker store's SQLite file, the
tickets database with its -wal/-shm files, both servers' logs, anything in the project copy or
the temporary folder) and every request the webhook received (path, query, headers, body). No
secret may appear, nor a distinctive piece of one, as UTF-8, as JSON \\u escapes or URL-encoded.
The conversations must have happened: the stored user texts are exactly the masked messages.

The test fails when masking is off: with `tests.e2e.servers.TRACKER_STORE = "SQL"` (Rasa's plain
SQL store in the endpoints file it writes; set it before running pytest from `python -c`) the
byte scan finds every secret in trackers.sqlite3 (34 pieces when this test was written).

The secrets are ones the masking rules hide (`test_the_secrets_are_ones_the_rules_hide`, also
run first by the end-to-end test): this test checks that every way in and every store masks,
not the rules (tests/secrets_corpus.yml does).
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest

from core.knowledge import knowledge
from core.secrets import MASK, mask_secrets
from tests.e2e.servers import Servers, conversation_id, start_servers
from tests.fake_http import Record, RecordingServer
from tests.project_copy import copy_project
from tests.socketio_client import REPLY_TIMEOUT, Client
from tickets.store import format_id

Replies = List[Dict[str, Any]]


@dataclass(frozen=True)
class Typed:
    """A message with a secret in it, and what of it must never be written: the secret and its distinctive pieces."""

    message: str
    secret: Tuple[str, ...]


# REST conversations: sender → messages, in order.
REST: Dict[str, List[Typed]] = {
    "secret-en": [
        Typed("my password is Hunter2! and it stopped working", ("Hunter2",)),
        Typed("pw: Tr0ub4dor&3", ("Tr0ub4dor&3", "Tr0ub4dor")),
        Typed("code 551 203 never worked", ("551 203", "551203")),
    ],
    "secret-en-keys": [
        Typed("outlook wants an app password, i used vkzq trpw hmsn yxlb", ("vkzq", "hmsn yxlb", "vkzqtrpwhmsnyxlb")),
        Typed("the bot uses the key sk-proj-Xy12Ab34Cd56Ef78Gh90IjKl", ("Xy12Ab34Cd56Ef78Gh90IjKl",)),
        Typed("card 4111 1111 1111 1111 was charged", ("4111 1111 1111 1111", "4111111111111111")),
    ],
    "secret-zh": [
        Typed("验证码是482913，登录不了", ("482913",)),
        Typed("我的密码是Abc12345", ("Abc12345",)),
        Typed("口令：qwerty2024!", ("qwerty2024",)),
        Typed("短信验证码是６６１２０３", ("６６１２０３", "661203")),
    ],
}
# Web chat conversations: transport → messages, in order.
WEBCHAT: Dict[str, List[Typed]] = {
    "websocket": [
        Typed("PIN 7391 doesnt work", ("7391",)),
        Typed("授权码：wkzp qrtm vbnc xlhd 填进去了还是不行", ("wkzp qrtm", "vbnc xlhd", "wkzpqrtmvbncxlhd")),
        Typed("my 2fa code 994 201 keeps failing", ("994 201", "994201")),
    ],
    "polling": [
        Typed("密码改成了Summer2024!然后就登录不上了", ("Summer2024",)),
    ],
}
# The ticket's description (the form asks for one when no problem is known).
TICKET_SENDER = "secret-ticket"
DESCRIPTION = Typed(
    "outlook rejects my password Kiwi#Lemon77 and the sms code 305 117 never arrives in time",
    ("Kiwi#Lemon77", "Lemon77", "305 117", "305117"),
)
ALL_TYPED = [*(t for ts in REST.values() for t in ts), *(t for ts in WEBCHAT.values() for t in ts), DESCRIPTION]
WEBHOOK_PATH = "/hooks/alimail"
SAVE_TIMEOUT = 30  # seconds for Rasa to save a conversation after its replies, and for the notification


def text_of(replies: Replies) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def button_payload(replies: Replies, title: str) -> str:
    """The payload of the button titled `title` in the replies (fails when absent)."""
    for reply in replies:
        for button in reply.get("buttons") or []:
            if button["title"] == title:
                return str(button["payload"])
    raise AssertionError(f"no button {title!r} in {replies!r}")


# -- what a leak looks like ------------------------------------------------------------------------
def encodings(text: str) -> Set[bytes]:
    """`text` as it may be written: UTF-8, JSON-escaped (json.dumps: \\uXXXX in either case), URL-encoded."""
    escaped = json.dumps(text)[1:-1]
    return {
        text.encode("utf-8"),
        escaped.encode("ascii"),
        re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), escaped).encode("ascii"),
        urllib.parse.quote(text, safe="").encode("ascii"),
        urllib.parse.quote_plus(text, safe="").encode("ascii"),
    }


def leak_patterns(typed: Typed) -> List[Tuple[str, "re.Pattern[bytes]"]]:
    """(what, pattern) for the whole message and each piece of its secret, in every encoding.

    A piece of digits only must stand alone: not inside a longer number, a word, a hex id or UUID
    group ("-"), or a float's decimals ("." before it), where digits come by chance.
    """
    patterns = []
    for piece in (typed.message, *typed.secret):
        for form in sorted(encodings(piece)):
            if piece.isascii() and piece.isdigit():
                regex = rb"(?<![0-9A-Za-z.-])" + re.escape(form) + rb"(?![0-9A-Za-z-])"
            else:
                regex = re.escape(form)
            patterns.append((piece, re.compile(regex)))
    return patterns


def leaks(where: str, data: bytes) -> List[Tuple[str, str]]:
    """(where, piece) for every secret piece found in `data`."""
    found = {piece for typed in ALL_TYPED for piece, pattern in leak_patterns(typed) if pattern.search(data)}
    return [(where, piece) for piece in sorted(found)]


# -- the servers -----------------------------------------------------------------------------------
@dataclass
class Run:
    servers: Servers
    workdir: Path
    webhook: RecordingServer
    # (size, mtime) of the files in the folder (the project copy) before the servers started
    before: Dict[Path, Tuple[int, int]] = field(repr=False)


def stat_of(path: Path) -> Tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    workdir = tmp_path_factory.mktemp("secrets-at-rest")
    project = copy_project(workdir / "project")
    (workdir / "tmp").mkdir()
    before = {path: stat_of(path) for path in workdir.rglob("*") if path.is_file()}
    webhook = RecordingServer()
    env = {
        "TICKET_WEBHOOK_URL": f"{webhook.url}{WEBHOOK_PATH}?access_token=hook-token",
        "TICKET_WEBHOOK_FORMAT": "json",
        "TMPDIR": str(workdir / "tmp"),  # temporary files are written bytes too
        "PYTHONDONTWRITEBYTECODE": "1",  # bytecode of the copied sources (their docstrings quote secrets)
    }
    try:
        servers = start_servers(workdir, extra_env=env, root=project)
    except BaseException:
        webhook.close()
        raise
    try:
        yield Run(servers, workdir, webhook, before)
    finally:
        servers.stop()
        webhook.close()


def stored_user_texts(servers: Servers) -> Dict[str, List[str]]:
    """sender id → the user texts the tracker store holds for it, in order."""
    path = servers.trackers_db_url.removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT sender_id, data FROM events WHERE type_name = 'user' ORDER BY id").fetchall()
    texts: Dict[str, List[str]] = {}
    for sender, data in rows:
        texts.setdefault(sender, []).append(json.loads(data).get("text") or "")
    return texts


def wait_until_saved(servers: Servers, expected: Dict[str, int]) -> None:
    """Until the tracker store holds `expected[sender]` user events of each sender (Rasa saves after replying)."""
    deadline = time.monotonic() + SAVE_TIMEOUT
    while True:
        counts = {sender: len(texts) for sender, texts in stored_user_texts(servers).items()}
        if all(counts.get(sender, 0) >= n for sender, n in expected.items()):
            return
        assert time.monotonic() < deadline, f"not saved: {expected} vs {counts}"
        time.sleep(0.2)


# -- the conversations -----------------------------------------------------------------------------
def converse_over_rest(servers: Servers) -> None:
    for sender, typed in REST.items():
        for item in typed:
            assert servers.say(sender, item.message), f"no reply to {item.message!r}"
    # Understanding works on the live message, and the next turn reads the masked history.
    forgot = knowledge().problem("forgot_password").likely_cause.get("en")
    assert forgot in text_of(servers.say("secret-guide", REST["secret-en"][0].message))
    assert servers.say("secret-guide", "/step_failed")


def open_ticket_over_rest(servers: Servers) -> str:
    """Open a ticket whose description holds secrets; returns the bot's confirmation."""
    assert "Which email address" in text_of(servers.say(TICKET_SENDER, "/open_ticket"))
    assert "what's the problem" in text_of(servers.say(TICKET_SENDER, "ann.lee@corp.example"))
    replies = servers.say(TICKET_SENDER, DESCRIPTION.message)
    summary = text_of(replies)
    assert "Here's the ticket I'll open" in summary and mask_secrets(DESCRIPTION.message) in summary, summary
    return text_of(servers.say(TICKET_SENDER, button_payload(replies, "Yes, open it")))


async def webchat_conversation(servers: Servers, transport: str, typed: List[Typed]) -> str:
    """A web chat conversation from the server's own origin; returns its conversation id (the Rasa sender)."""
    client = Client(servers.rasa_url, servers.rasa_url, transport)
    await client.connect()
    try:
        session_id = await client.session(None)
        for item in typed:
            await client.say(item.message, session_id)
            await client.next("bot_uttered")  # answered (more replies may follow)
    finally:
        await client.close()
    return str(session_id).split(".", 1)[0]


def converse_over_webchat(servers: Servers) -> Dict[str, List[Typed]]:
    """sender id → what was typed in it, for each web chat conversation."""
    conversations = {}
    for transport, typed in WEBCHAT.items():
        coroutine = webchat_conversation(servers, transport, typed)
        sender = asyncio.run(asyncio.wait_for(coroutine, 4 * REPLY_TIMEOUT))
        conversations[sender] = typed
    return conversations


# -- the test --------------------------------------------------------------------------------------
def test_the_secrets_are_ones_the_rules_hide() -> None:
    """A guard: each message is masked by core.secrets, so a leak below is a store's fault, not a rule's."""
    assert len(ALL_TYPED) >= 12
    for typed in ALL_TYPED:
        masked = mask_secrets(typed.message)
        assert MASK in masked, typed.message
        assert not any(piece in masked for piece in typed.secret), (typed.message, masked)
    # Both languages, and a piece that only its JSON escape or URL-encoding would show.
    assert any(re.search("[\u4e00-\u9fff]", typed.message) for typed in ALL_TYPED)
    assert any(not piece.isascii() for typed in ALL_TYPED for piece in typed.secret)


def test_no_typed_secret_is_written_anywhere(run: Run) -> None:
    test_the_secrets_are_ones_the_rules_hide()
    servers = run.servers
    converse_over_rest(servers)
    webchat = converse_over_webchat(servers)
    confirmation = open_ticket_over_rest(servers)
    opened = re.search(r"ALM-\d{6}", confirmation)
    assert opened, confirmation
    ticket_id = opened.group(0)
    notified = run.webhook.wait_for(lambda records: records, timeout=SAVE_TIMEOUT)
    assert notified, "no staff notification reached the webhook"
    rest = {conversation_id(sender): typed for sender, typed in REST.items()}
    wait_until_saved(servers, {sender: len(typed) for sender, typed in {**rest, **webchat}.items()})
    servers.stop()  # logs flushed and closed, databases closed

    # Every byte written, read before anything here opens a database.
    written = {
        path: path.read_bytes()
        for path in sorted(run.workdir.rglob("*"))
        if path.is_file() and run.before.get(path) != stat_of(path)
    }
    requests = run.webhook.snapshot()
    names = {path.name for path in written}
    assert {"trackers.sqlite3", "tickets.sqlite3", "rasa.log", "actions.log"} <= names, names

    # Not one secret, in any file written or in any request sent.
    found = [leak for path, data in written.items() for leak in leaks(str(path.relative_to(run.workdir)), data)]
    found += [leak for record in requests for leak in leaks("webhook request", request_bytes(record))]
    assert found == []

    # Not vacuously: the conversations happened and were kept, masked (the stored user texts are the
    # masked messages), and the ticket and its notification keep the masked description.
    stored = stored_user_texts(servers)
    for sender, typed in {**rest, **webchat}.items():
        # Every stored user text is one of the masked messages, and the conversation kept some: the
        # two-stage fallback rewinds a turn it asked to rephrase, so not every message need stay.
        masked = [mask_secrets(item.message) for item in typed]
        kept = stored.get(sender) or []
        assert kept and set(kept) <= set(masked), (sender, kept)
    assert len(webchat) == len(WEBCHAT)

    with sqlite3.connect(f"file:{servers.tickets_db_url.removeprefix('sqlite:///')}?mode=ro", uri=True) as db:
        tickets = db.execute("SELECT number, sender_id, description, transcript FROM tickets").fetchall()
    assert len(tickets) == 1, tickets
    number, sender_id, description, transcript = tickets[0]
    assert (format_id(number), sender_id) == (ticket_id, conversation_id(TICKET_SENDER))
    assert description == mask_secrets(DESCRIPTION.message)
    assert {"who": "user", "text": description} in json.loads(transcript)
    assert [(r["method"], r["path"]) for r in requests] == [("POST", WEBHOOK_PATH)]
    notification = requests[0]["json"]
    assert notification["event"] == "ticket.created" and notification["ticket"]["id"] == ticket_id
    assert notification["ticket"]["description"] == mask_secrets(DESCRIPTION.message)


def request_bytes(record: Record) -> bytes:
    """Everything the webhook received in one request: the query, the headers and the body."""
    headers = "\n".join(f"{name}: {value}" for name, value in record["headers"].items())
    return f"{record['path']}?{record['raw_query']}\n{headers}\n\n".encode("utf-8") + record["raw"]
