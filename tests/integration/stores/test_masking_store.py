"""The masking tracker store writes no typed secret: real SQLite files and the machine's PostgreSQL.

PostgreSQL is TRACKER_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test; each
test works in a throw-away schema that is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, List, Tuple

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from stores.masking import MaskingSQLTrackerStore
from stores.strict import StrictSQLTrackerStore

POSTGRES_URL = os.environ.get("TRACKER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "Hunter2!"
CODE = "482913"
SECRETS = (PASSWORD, CODE)
TYPED = f"my password is {PASSWORD} and it stopped working"
TYPED_ZH = f"验证码是{CODE}，登录不了"
DOMAIN = Domain.from_dict(
    {
        "intents": ["forgot_password", "verification_failed"],
        "slots": {"ticket_description": {"type": "text", "mappings": [{"type": "custom"}]}},
    }
)


def user(text: str, intent: str) -> UserUttered:
    """The user's message as the pipeline parses it, with an entity cut from the secret in it."""
    piece = PASSWORD if PASSWORD in text else CODE
    start = text.index(piece)
    parse_data = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": [{"entity": "ticket_id", "value": piece, "start": start, "end": start + len(piece)}],
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
    }
    return UserUttered(
        text,
        intent=parse_data["intent"],
        entities=parse_data["entities"],
        parse_data=parse_data,
        input_channel="rest",
        metadata={"echo": {"said": [text]}},
    )


def first_turn() -> list:
    return [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        user(TYPED, "forgot_password"),
        SlotSet("ticket_description", TYPED),
        ActionExecuted("action_start_guide", policy="RulePolicy", confidence=1.0),
        BotUttered(f"You said: {TYPED}", data={"buttons": [{"title": f"code {CODE}", "payload": "/affirm"}]}),
        ActionExecuted("action_listen"),
    ]


def second_turn() -> list:
    return [
        user(TYPED_ZH, "verification_failed"),
        SlotSet("ticket_description", TYPED_ZH),
        ActionExecuted("action_listen"),
    ]


def contains_secret(raw: bytes) -> List[str]:
    """The secrets found in `raw`, as written (UTF-8) or JSON-escaped (json.dumps' default)."""
    found = []
    for secret in (*SECRETS, TYPED_ZH):
        forms = {secret.encode("utf-8"), json.dumps(secret)[1:-1].encode("ascii")}
        if any(form in raw for form in forms):
            found.append(secret)
    return found


class Backend:
    """A store of one kind and a way to read everything it wrote, unparsed."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.schema = f"masking_{uuid.uuid4().hex[:12]}"
        self.admin: Any = None
        if kind == "postgresql":
            self.admin = sa.create_engine(
                POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
            )
            with self.admin.connect() as connection:
                connection.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))

    def store(self) -> SQLTrackerStore:
        if self.kind == "sqlite":
            return MaskingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(self.tmp_path / "trackers.sqlite3"))
        url = make_url(POSTGRES_URL)
        # The production profile's class (endpoints.production.yml), in this test's schema.
        return StrictSQLTrackerStore(
            domain=DOMAIN,
            dialect="postgresql",
            host=url.host,
            port=url.port or 5432,
            db=url.database,
            username=url.username,
            password=url.password,
            query={"options": f"-csearch_path={self.schema}"},
        )

    def raw(self) -> bytes:
        """SQLite: every byte of the database files; PostgreSQL: every column of every row, as text."""
        if self.kind == "sqlite":
            return b"".join(path.read_bytes() for path in sorted(self.tmp_path.glob("trackers.sqlite3*")))
        with self.admin.connect() as connection:
            rows = connection.execute(sa.text(f'SELECT * FROM "{self.schema}".events ORDER BY id')).all()
        return "\n".join(repr(tuple(row)) for row in rows).encode("utf-8")

    def rows(self) -> List[Tuple[int, str, str]]:
        if self.kind == "sqlite":
            engine = sa.create_engine(f"sqlite:///{self.tmp_path / 'trackers.sqlite3'}")
            table = "events"
        else:
            engine, table = self.admin, f'"{self.schema}".events'
        with engine.connect() as connection:
            result = connection.execute(sa.text(f"SELECT id, intent_name, data FROM {table} ORDER BY id")).all()
        if self.kind == "sqlite":
            engine.dispose()
        return [tuple(row) for row in result]

    def close(self) -> None:
        if self.admin is not None:
            with self.admin.connect() as connection:
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            self.admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    db = Backend(request.param, tmp_path)
    try:
        yield db
    finally:
        db.close()


def run(coroutine_function: Callable[..., Any], *args: Any) -> Any:
    return asyncio.run(coroutine_function(*args))


def test_no_typed_secret_reaches_the_database(backend: Backend) -> None:
    store = backend.store()
    try:
        tracker = DialogueStateTracker.from_events("alice", first_turn(), DOMAIN.slots)
        run(store.save, tracker)
        first_rows = backend.rows()
        assert len(first_rows) == len(first_turn())  # everything was written, and written once

        # The next turn: Rasa reads the (masked) history back, adds the live events, saves.
        restored = run(store.retrieve, "alice")
        assert restored is not None
        assert restored.latest_message.intent["name"] == "forgot_password"
        assert restored.get_slot("ticket_description") == "my password is [hidden] and it stopped working"
        for event in second_turn():
            restored.update(event)
        run(store.save, restored)

        raw = backend.raw()
        assert contains_secret(raw) == []
        rows = backend.rows()
        assert rows[: len(first_rows)] == first_rows  # events already stored are not rewritten
        assert len(rows) == len(first_turn()) + len(second_turn())
        intents = [intent for _, intent, _ in rows if intent]
        assert intents == ["forgot_password", "verification_failed"]  # the labels Rasa queries by are kept
        texts = [json.loads(data).get("text") for _, _, data in rows if json.loads(data)["event"] == "user"]
        assert texts == ["my password is [hidden] and it stopped working", "验证码是[hidden]，登录不了"]

        full = run(store.retrieve_full_tracker, "alice")
        assert [e.as_dict().get("value") for e in full.events if isinstance(e, SlotSet)] == [
            "my password is [hidden] and it stopped working",
            "验证码是[hidden]，登录不了",
        ]
    finally:
        store.engine.dispose()


def test_the_engine_hides_parameters(backend: Backend) -> None:
    store = backend.store()
    try:
        assert store.engine.hide_parameters is True
        assert store.sessionmaker.kw["bind"] is store.engine
    finally:
        store.engine.dispose()


def test_a_failing_insert_error_shows_no_parameter_values(tmp_path: Path) -> None:
    """PostgreSQL refuses a sender id longer than its column; the error (which Rasa logs) hides the values.

    (SQLite does not enforce VARCHAR lengths, so this is PostgreSQL only.)
    """
    backend = Backend("postgresql", tmp_path)
    store = backend.store()
    try:
        events = [ActionExecuted("action_listen"), user(TYPED, "forgot_password")]
        tracker = DialogueStateTracker.from_events("s" * 300, events, DOMAIN.slots)
        with pytest.raises(sa.exc.DBAPIError) as raised:
            run(store.save, tracker)
        message = str(raised.value)
        assert "hide_parameters" in message
        assert "s" * 300 not in message and "[hidden]" not in message and "action_listen" not in message
    finally:
        store.engine.dispose()
        backend.close()
