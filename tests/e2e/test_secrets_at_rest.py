"""End to end: a password or verification code a user types is written nowhere in clear (issue 12).

The real Rasa server and action server (tests/e2e/servers.py: the masking tracker store on an
SQLite file, tickets in an SQLite file, logs in files, all in one folder) hear secrets over REST
in English and Chinese; the guide still starts and a ticket is opened; then, with the servers
stopped (so every log line is flushed), no file in that folder holds a secret, byte for byte.

To cover another way in (web chat, a notification webhook), add a step to `CONVERSATIONS` or a
sender in `converse`, and a folder or file to `files_at_rest`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import pytest
import sqlalchemy as sa

from core.knowledge import knowledge
from tests.e2e.servers import Servers, conversation_id, start_servers

PASSWORD = "Hunter2!"
CODE = "482913"
ZH_PASSWORD = "Mima_2024#"
SECRETS = (PASSWORD, CODE, ZH_PASSWORD)

Replies = List[dict]
Check = Callable[[Replies], None]


def text_of(replies: Replies) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def button_payload(replies: Replies, title: str) -> str:
    """The payload of the button titled `title` in the replies (fails when absent)."""
    for reply in replies:
        for button in reply.get("buttons") or []:
            if button["title"] == title:
                return button["payload"]
    raise AssertionError(f"no button {title!r} in {replies!r}")


def secret_forms(secret: str) -> List[bytes]:
    """How a secret may appear in a file: as UTF-8 text, or JSON-escaped (Rasa's json.dumps)."""
    return sorted({secret.encode("utf-8"), json.dumps(secret)[1:-1].encode("ascii")})


def says(fragment: str) -> Check:
    def check(replies: Replies) -> None:
        assert fragment in text_of(replies), replies

    return check


def answered(replies: Replies) -> None:
    assert replies, "no reply"


def guide_started(problem: str) -> Check:
    return says(knowledge().problem(problem).likely_cause.get("en"))


# (sender, [(message, check of the replies)]): each sender is one conversation, in order.
CONVERSATIONS: Dict[str, List[Tuple[str, Check]]] = {
    "secret-en": [
        # NLU runs on the live message: the guide starts although the stored text is masked.
        (f"my password is {PASSWORD} and it stopped working", guide_started("forgot_password")),
        ("/step_failed", answered),  # the next turn reads the masked history
    ],
    "secret-zh": [
        (f"验证码是{CODE}，登录不了", answered),
        (f"我的密码是{ZH_PASSWORD}", answered),
    ],
}
# A ticket whose description and transcript hold the secrets (the form asks for a description
# when no problem is known); the "Yes, open it" button is pressed by `converse`.
TICKET_SENDER = "secret-ticket"
TICKET_STEPS: List[Tuple[str, Check]] = [
    ("/open_ticket", says("Which email address")),
    ("ann.lee@corp.example", says("what's the problem")),
    (f"my password is {PASSWORD} and the sms code {CODE} never works", says("Here's the ticket I'll open")),
]


def files_at_rest(workdir: Path) -> List[Path]:
    """Every file the servers wrote: tracker and ticket databases (with -wal/-journal), logs."""
    return sorted(path for path in workdir.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Servers, Path]]:
    workdir = tmp_path_factory.mktemp("secrets-at-rest")
    servers = start_servers(workdir)
    try:
        yield servers, workdir
    finally:
        servers.stop()


def converse(servers: Servers) -> None:
    for sender, steps in CONVERSATIONS.items():
        for message, check in steps:
            check(servers.say(sender, message))
    replies: Replies = []
    for message, check in TICKET_STEPS:
        replies = servers.say(TICKET_SENDER, message)
        check(replies)
    summary = text_of(replies)
    assert PASSWORD not in summary and CODE not in summary  # the summary shows what the ticket keeps
    assert "[hidden]" in summary
    assert "ALM-" in text_of(servers.say(TICKET_SENDER, button_payload(replies, "Yes, open it")))


def test_no_typed_secret_is_kept_at_rest(run: Tuple[Servers, Path]) -> None:
    servers, workdir = run
    converse(servers)
    servers.stop()  # flush and close the logs and databases

    trackers = sa.create_engine(servers.trackers_db_url)
    with trackers.connect() as connection:
        senders = {row[0] for row in connection.execute(sa.text("SELECT DISTINCT sender_id FROM events"))}
        first_text = connection.execute(
            sa.text("SELECT data FROM events WHERE sender_id = :sender AND type_name = 'user' ORDER BY id"),
            {"sender": conversation_id("secret-en")},
        ).first()
    trackers.dispose()
    # The masking store was used (Rasa silently falls back to memory when a store can't be loaded).
    assert {conversation_id(sender) for sender in (*CONVERSATIONS, TICKET_SENDER)} <= senders
    assert first_text is not None
    assert json.loads(first_text[0])["text"] == "my password is [hidden] and it stopped working"

    tickets = sa.create_engine(servers.tickets_db_url)
    with tickets.connect() as connection:
        descriptions = [row[0] for row in connection.execute(sa.text("SELECT description FROM tickets"))]
    tickets.dispose()
    assert descriptions == ["my password is [hidden] and the sms code [hidden] never works"]

    files = files_at_rest(workdir)
    names = {path.name for path in files}
    assert {"trackers.sqlite3", "tickets.sqlite3", "rasa.log", "actions.log"} <= names, names
    leaks = [
        (str(path.relative_to(workdir)), secret)
        for path in files
        for secret in SECRETS
        if any(form in path.read_bytes() for form in secret_forms(secret))
    ]
    assert leaks == []
