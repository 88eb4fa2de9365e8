"""trainer/review_db.py: reading a tracker store's `events` table from an SQLite file, read-only."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, List, Optional, Tuple

import pytest

from trainer.review_db import Event, TrackerDbError, conversations, read_events, safe_url

# The columns Rasa's SQLTrackerStore writes (rasa.core.tracker_store.SQLTrackerStore.SQLEvent).
SCHEMA = """CREATE TABLE events (
    id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL,
    timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"""

Row = Tuple[str, str, float, Optional[str], Optional[str], Any]


def tracker_db(path: Path, rows: List[Row]) -> str:
    with sqlite3.connect(path) as connection:
        connection.execute(SCHEMA)
        connection.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) VALUES (?,?,?,?,?,?)",
            [(s, t, ts, i, a, d if isinstance(d, str) or d is None else json.dumps(d)) for s, t, ts, i, a, d in rows],
        )
    return f"sqlite:///{path}"


ROWS: List[Row] = [
    ("bob", "user", 10.0, "greet", None, {"text": "hi"}),
    ("alice", "action", 1.0, None, "action_session_start", {}),
    ("alice", "user", 2.0, "forgot_password", None, {"text": "forgot pw", "parse_data": {}}),
    ("bob", "bot", 11.0, None, None, "not json"),
    ("alice", "bot", 3.0, None, None, None),
    ("bob", "user", 12.0, "affirm", None, "[1, 2]"),
]


def test_events_come_by_sender_then_in_stored_order_with_their_data(tmp_path: Path) -> None:
    events = list(read_events(tracker_db(tmp_path / "t.sqlite3", ROWS)))
    assert [(e.sender_id, e.type_name, e.timestamp) for e in events] == [
        ("alice", "action", 1.0),
        ("alice", "user", 2.0),
        ("alice", "bot", 3.0),
        ("bob", "user", 10.0),
        ("bob", "bot", 11.0),
        ("bob", "user", 12.0),
    ]
    assert events[1].intent_name == "forgot_password" and events[1].data["text"] == "forgot pw"
    assert events[0].action_name == "action_session_start"
    assert [e.data for e in events[2:]] == [{}, {"text": "hi"}, {}, {}]  # empty, bad JSON, not a mapping


def test_since_leaves_out_older_events(tmp_path: Path) -> None:
    url = tracker_db(tmp_path / "t.sqlite3", ROWS)
    assert [e.timestamp for e in read_events(url, since=3.0)] == [3.0, 10.0, 11.0, 12.0]


def test_the_file_is_only_read(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    url = tracker_db(path, ROWS)
    before = path.read_bytes()
    assert len(list(read_events(url))) == len(ROWS)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.sqlite3"]  # no journal or WAL left behind


@pytest.mark.parametrize(
    "url, message",
    [
        ("sqlite://", "needs a file"),
        ("sqlite:///:memory:", "needs a file"),
        ("not a url", "not a database URL"),
        ("nosuchdialect://host/db", "can't use nosuchdialect://host/db"),
    ],
)
def test_unusable_urls_are_explained(url: str, message: str) -> None:
    with pytest.raises(TrackerDbError, match=message):
        list(read_events(url))


def test_a_missing_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite3"
    with pytest.raises(TrackerDbError, match="no tracker database at .*none.sqlite3"):
        list(read_events(f"sqlite:///{path}"))
    assert not path.exists()


def test_a_database_without_an_events_table_is_named(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    sqlite3.connect(path).close()
    with pytest.raises(TrackerDbError, match=r"no such table: events \(is this Rasa's SQL tracker store\?\)"):
        list(read_events(f"sqlite:///{path}"))


def test_messages_never_show_the_password() -> None:
    assert safe_url("postgresql://rasa:s3cret@db:5432/rasa") == "postgresql://rasa:***@db:5432/rasa"
    assert safe_url("not a url") == "not a url"


def event(sender: str, type_name: str) -> Event:
    return Event(0, sender, type_name, None, None, None, {})


def test_conversations_split_at_sessions_in_which_the_user_said_something() -> None:
    events = [
        event("a", "action"),
        event("a", "session_started"),
        event("a", "user"),
        event("a", "bot"),
        event("a", "session_started"),  # the second session: nothing said
        event("a", "action"),
        event("b", "session_started"),
        event("b", "user"),
        event("b", "session_started"),
        event("b", "user"),
    ]
    found = [[(e.sender_id, e.type_name) for e in session] for session in conversations(iter(events))]
    assert found == [
        [("a", "action"), ("a", "session_started"), ("a", "user"), ("a", "bot")],
        [("b", "session_started"), ("b", "user")],
        [("b", "session_started"), ("b", "user")],
    ]
