"""stores/scrub.py on a real SQLite file written by Rasa's plain SQL tracker store (no masking)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Dict, Tuple

import pytest
import sqlalchemy as sa

from stores.masking import MaskingSQLTrackerStore, mask_event
from stores.retention import TrackerStoreMissing, tracker_engine
from stores.scrub import ScrubResult, scrub_events
from tests.unmasked_rows import DAY, DOMAIN, MESSAGES, plain_store, save_conversation, secrets_in

Row = Tuple[str, str, str, str]  # type_name, intent_name, action_name, data


def rows(path: Path) -> Dict[int, Row]:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        result = connection.execute(sa.text("SELECT id, type_name, intent_name, action_name, data FROM events"))
        found = {row[0]: tuple(row[1:]) for row in result}
    engine.dispose()
    return found  # type: ignore[return-value]


def raw(path: Path) -> bytes:
    return b"".join(part.read_bytes() for part in sorted(path.parent.glob(path.name + "*")))


@pytest.fixture
def trackers(tmp_path: Path) -> Path:
    path = tmp_path / "trackers.sqlite3"
    store = plain_store(dialect="sqlite", db=str(path))
    save_conversation(store, "alice", MESSAGES[:3], at=time.time() - 5 * DAY)
    save_conversation(store, "bob", MESSAGES[3:], at=time.time() - DAY)
    store.engine.dispose()
    return path


def test_masks_every_stored_secret_and_counts_the_rows_it_changed(trackers: Path) -> None:
    before = rows(trackers)
    assert sorted(secrets_in(raw(trackers))) == sorted(s for _, s, _ in MESSAGES)  # written in clear
    engine = tracker_engine(f"sqlite:///{trackers}")
    try:
        result = scrub_events(engine)
        after = rows(trackers)
        changed = [row_id for row_id in before if after[row_id] != before[row_id]]
        assert result == ScrubResult(rows=len(before), changed=len(changed), unreadable=0)
        # Per message: the user event, its slot and the bot's echo.
        assert len(changed) == 3 * len(MESSAGES)
        assert secrets_in(raw(trackers)) == []
        for row_id in changed:
            type_name, intent, action, data = after[row_id]
            assert (type_name, intent, action) == before[row_id][:3]  # labels stay
            assert json.loads(data) == mask_event(json.loads(before[row_id][3]))  # the store's own rule
        assert scrub_events(engine) == ScrubResult(rows=len(before), changed=0, unreadable=0)
    finally:
        engine.dispose()
    assert rows(trackers) == after


def test_rasa_reads_the_scrubbed_conversation(trackers: Path) -> None:
    engine = tracker_engine(f"sqlite:///{trackers}")
    scrub_events(engine)
    engine.dispose()
    store = MaskingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(trackers))
    try:
        tracker = asyncio.run(store.retrieve_full_tracker("alice"))
    finally:
        store.engine.dispose()
    assert tracker is not None
    assert [e.text for e in tracker.events if e.type_name == "user"] == [
        "my password is [hidden] and it stopped working",
        "验证码是[hidden]，登录不了",
        "I tried mypassword=[hidden] and got locked out",
    ]
    assert tracker.latest_message is not None and tracker.latest_message.intent["name"] == "forgot_password"


def test_a_dry_run_counts_and_writes_nothing(trackers: Path) -> None:
    before = rows(trackers)
    engine = tracker_engine(f"sqlite:///{trackers}")
    try:
        assert scrub_events(engine, dry_run=True).changed == 3 * len(MESSAGES)
    finally:
        engine.dispose()
    assert rows(trackers) == before


def test_a_row_that_is_not_an_event_is_left_alone(trackers: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{trackers}")
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES ('x', 'user', 1, :data)"),
            {"data": "password is Hunter2! (not JSON)"},
        )
    engine.dispose()
    engine = tracker_engine(f"sqlite:///{trackers}")
    try:
        result = scrub_events(engine)
    finally:
        engine.dispose()
    assert result.unreadable == 1 and result.changed == 3 * len(MESSAGES)


def test_no_events_table(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    sa.create_engine(f"sqlite:///{path}").connect().close()
    engine = tracker_engine(f"sqlite:///{path}")
    with pytest.raises(TrackerStoreMissing):
        scrub_events(engine)
    engine.dispose()
