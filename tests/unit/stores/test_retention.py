"""stores/retention.py on real SQLite files written by Rasa's SQL tracker store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict

import pytest
import sqlalchemy as sa

from stores.masking import MaskingSQLTrackerStore
from stores.retention import (
    PurgeResult,
    TrackerStoreMissing,
    purge_conversations,
    tracker_engine,
)
from tests.unmasked_rows import (
    DAY,
    DOMAIN,
    MESSAGES,
    continue_conversation,
    plain_store,
    save_conversation,
    secrets_in,
)


def events_per_sender(path: Path) -> Dict[str, int]:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id")).all()
    engine.dispose()
    return dict((sender, count) for sender, count in rows)


@pytest.fixture
def trackers(tmp_path: Path) -> Path:
    """old: last event 100 days ago; back: began 200 days ago, came back 10 days ago; new: 1 day ago."""
    path = tmp_path / "trackers.sqlite3"
    store = plain_store(dialect="sqlite", db=str(path))
    now = time.time()
    save_conversation(store, "old", MESSAGES[:2], at=now - 100 * DAY)
    save_conversation(store, "back", MESSAGES[2:4], at=now - 200 * DAY)
    store.engine.dispose()
    # The same conversation continued today through the masking store (the one endpoints.yml names now).
    store = MaskingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))
    continue_conversation(store, "back", MESSAGES[2:3], at=now - 10 * DAY)
    save_conversation(store, "new", MESSAGES[4:], at=now - 1 * DAY)
    store.engine.dispose()
    return path


def test_deletes_the_conversations_whose_last_event_is_older_than_the_cutoff(trackers: Path) -> None:
    before = events_per_sender(trackers)
    assert set(before) == {"old", "back", "new"}
    engine = tracker_engine(f"sqlite:///{trackers}")
    try:
        result = purge_conversations(engine, time.time() - 90 * DAY)
        assert result == PurgeResult(conversations=1, events=before["old"])
        after = events_per_sender(trackers)
        # "back" keeps every event, also those of 200 days ago: its LAST event is recent.
        assert after == {"back": before["back"], "new": before["new"]}
        assert purge_conversations(engine, time.time() - 90 * DAY) == PurgeResult(0, 0)  # idempotent
        assert purge_conversations(engine, time.time() - 5 * DAY) == PurgeResult(1, before["back"])
        assert events_per_sender(trackers) == {"new": before["new"]}
    finally:
        engine.dispose()


def test_deleted_text_is_not_left_in_the_file(trackers: Path) -> None:
    engine = tracker_engine(f"sqlite:///{trackers}")
    try:
        purge_conversations(engine, time.time() + DAY)  # everything
    finally:
        engine.dispose()
    assert events_per_sender(trackers) == {}
    raw = b"".join(path.read_bytes() for path in trackers.parent.glob("trackers.sqlite3*"))
    assert secrets_in(raw) == []  # secure_delete: the rows' bytes were zeroed, not left in free pages


def test_a_dry_run_counts_and_changes_nothing(trackers: Path) -> None:
    before = events_per_sender(trackers)
    engine = tracker_engine(f"sqlite:///{trackers}")
    try:
        result = purge_conversations(engine, time.time() - 90 * DAY, dry_run=True)
    finally:
        engine.dispose()
    assert result == PurgeResult(1, before["old"])
    assert events_per_sender(trackers) == before


def test_no_store_yet_is_reported_and_nothing_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "none" / "trackers.sqlite3"
    with pytest.raises(TrackerStoreMissing, match="no tracker database"):
        tracker_engine(f"sqlite:///{missing}")
    assert not missing.parent.exists()
    empty = tmp_path / "empty.sqlite3"
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    engine = tracker_engine(f"sqlite:///{empty}")
    with pytest.raises(TrackerStoreMissing, match="no `events` table"):
        purge_conversations(engine, time.time())
    engine.dispose()
