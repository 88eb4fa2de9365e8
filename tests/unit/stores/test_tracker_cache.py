"""stores/tracker_cache.py through the masking SQL store: a read returns what Rasa's own full read
returns, turn after turn, and reads the database again when anything else wrote to it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Dict

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from stores.masking import MaskingSQLTrackerStore
from stores.tracker_cache import TrackerCache

DOMAIN = Domain.load("domain.yml")
SECRET = "my password is Hunter2!Hunter2"


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def user(text: str, intent: str) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 1.0}, parse_data={"text": text, "intent": {"name": intent}})


def state(tracker: DialogueStateTracker) -> Dict[str, Any]:
    """The tracker's whole state as JSON gives it (as Rasa sends it to the action server)."""
    return dict(json.loads(json.dumps(tracker.current_state(EventVerbosity.ALL))))


def rasa_read(path: Path, sender: str) -> DialogueStateTracker:
    """Rasa's own read (a store without the cache)."""
    store = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))
    try:
        tracker = run(store.retrieve(sender))
    finally:
        store.engine.dispose()
    assert tracker is not None
    return tracker


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "trackers.sqlite3"


def one_turn(tracker: DialogueStateTracker, number: int, text: str = "next") -> None:
    for event in [user(text, "next_step"), ActionExecuted("action_next_step"), SlotSet("step_index", float(number))]:
        tracker.update(event, DOMAIN)
    tracker.update(BotUttered(f"step {number}"))
    tracker.update(ActionExecuted("action_listen"))


def test_every_read_is_rasas_read_and_the_cache_is_used(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = MaskingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))
    full_reads = []
    rasa_retrieve = SQLTrackerStore._retrieve

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        full_reads.append(args)
        return await rasa_retrieve(self, *args, **kwargs)

    monkeypatch.setattr(MaskingSQLTrackerStore, "_retrieve", counted)
    tracker = DialogueStateTracker("alice", DOMAIN.slots)
    for event in [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]:
        tracker.update(event)
    run(store.save(tracker))
    for number in range(1, 8):
        tracker = run(store.retrieve("alice"))
        one_turn(tracker, number, SECRET if number == 3 else "next")
        said = next(e for e in reversed(tracker.events) if isinstance(e, UserUttered))
        said.parse_data["text_tokens"] = [(0, 4)]  # as the tokenizer leaves it: a tuple, a list in JSON
        run(store.save(tracker))
        kept = next(e for e in reversed(store._trackers._entries["alice"].tracker.events) if isinstance(e, UserUttered))
        assert (kept is said) is (number != 3)  # the live event unless masking changed it
        read = run(store.retrieve("alice"))
        assert len(full_reads) == 1  # only the first read went to the database for every event
        assert state(read) == state(rasa_read(path, "alice"))
        assert read.get_slot("step_index") == float(number)
        assert SECRET not in str(state(read))  # what is remembered is what was stored: masked
    store.engine.dispose()


def test_a_write_by_another_process_is_read_from_the_database(path: Path) -> None:
    ours = MaskingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))
    other = MaskingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))
    tracker = DialogueStateTracker("bob", DOMAIN.slots)
    one_turn(tracker, 1)
    run(ours.save(tracker))
    run(ours.save(one_more(run(ours.retrieve("bob")), 2)))
    assert run(ours.retrieve("bob")).get_slot("step_index") == 2.0  # remembered
    run(other.save(one_more(run(other.retrieve("bob")), 3)))  # e.g. another Rasa process
    read = run(ours.retrieve("bob"))
    assert read.get_slot("step_index") == 3.0
    assert state(read) == state(rasa_read(path, "bob"))
    ours.engine.dispose()
    other.engine.dispose()


def one_more(tracker: DialogueStateTracker, number: int) -> DialogueStateTracker:
    one_turn(tracker, number)
    return tracker


def test_a_new_session_is_read_from_the_database(path: Path) -> None:
    store = MaskingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))
    tracker = DialogueStateTracker("carol", DOMAIN.slots)
    one_turn(tracker, 1)
    run(store.save(tracker))
    tracker = one_more(run(store.retrieve("carol")), 2)
    run(store.save(tracker))
    tracker = run(store.retrieve("carol"))
    for event in [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]:
        tracker.update(event)
    run(store.save(tracker))
    read = run(store.retrieve("carol"))
    assert read.events[0].type_name == "session_started" and len(read.events) == 2  # this session only
    assert state(read) == state(rasa_read(path, "carol"))
    store.engine.dispose()


def test_the_cache_keeps_only_the_most_recent_conversations() -> None:
    cache = TrackerCache(size=2)
    for sender in ("a", "b", "c"):
        cache.put(sender, DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen")]), 1)
    assert len(cache) == 2
    assert cache.get("a", 1) is None and cache.get("c", 1) is not None
    assert cache.get("c", 2) is None  # the database moved on: forgotten
    assert cache.get("c", 1) is None
