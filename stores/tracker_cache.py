"""The trackers the SQL tracker store read last, kept so a turn costs the same at turn 200 as at turn 2.

Rasa's SQL tracker store reads every event of the session for each message and rebuilds the tracker
from them, and counts them again to save: both grow with the conversation (README, "Where a turn's
time goes"). `stores.masking.MaskingSQLTrackerStore` keeps, per conversation, the tracker exactly as a
read would rebuild it: built from the events as stored (masked, through JSON), extended with each
save's new events the same way. A read first asks the database for the conversation's highest event
id: when it is the one remembered, the remembered tracker is returned (a copy); otherwise (another
process wrote, rows were deleted, a new session started, or nothing is remembered) Rasa's full read
runs and is remembered. So what a read returns never differs from Rasa's own read.

Only `CACHED_CONVERSATIONS` conversations are kept (least recently used dropped). What is kept is what
the database holds: masked events, no secret the user typed.
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, Event, FollowupAction, Restarted, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

CACHED_CONVERSATIONS = 256


def copy_tracker(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """A copy of `tracker` in the state its events give, without replaying them.

    Rasa's `DialogueStateTracker.copy` replays every event into a new tracker (its time grows with the
    conversation). This copies the state instead: the same event objects in a new list, each slot copied
    (values shared, as a replay shares the events' values), the active loop and latest action copied.
    Like Rasa's copy it leaves `model_id` and `assistant_id` unset, and the state is the one the events
    give (a `followup_action` cleared by the processor without an event is set again, as a replay sets it).
    """
    duplicate = copy.copy(tracker)
    duplicate.events = deque(tracker.events, maxlen=tracker.events.maxlen)
    slots = copy.copy(tracker.slots)  # the same mapping class (AnySlotDict for a tracker without domain)
    for name, slot in tracker.slots.items():
        slots[name] = copy.copy(slot)
    duplicate.slots = slots
    duplicate.active_loop = copy.copy(tracker.active_loop)
    duplicate.latest_action = copy.copy(tracker.latest_action)
    duplicate.followup_action = _followup_from_events(tracker)
    duplicate.model_id = None
    duplicate.assistant_id = None
    return duplicate


def _followup_from_events(tracker: DialogueStateTracker) -> Optional[str]:
    """The follow-up action the events set (the processor may have cleared it without an event)."""
    if tracker.followup_action is not None:
        return tracker.followup_action
    for event in reversed(tracker.events):  # stops at the latest action: a few events back
        if isinstance(event, FollowupAction):
            return event.action_name
        if isinstance(event, ActionExecuted):
            return None
        if isinstance(event, (Restarted, SessionStarted)):
            return ACTION_LISTEN_NAME
    return ACTION_LISTEN_NAME


def _as_stored(event: Event) -> Any:
    """The event as the store's JSON gives it back (tuples become lists)."""
    return json.loads(json.dumps(event.as_dict()))


@dataclass
class CachedTracker:
    """A conversation's tracker as stored, and the highest event id it includes."""

    tracker: DialogueStateTracker
    last_id: int
    stored: int  # events of the tracker (all stored)


class TrackerCache:
    """The trackers of the `size` most recently used conversations."""

    def __init__(self, size: int = CACHED_CONVERSATIONS) -> None:
        self.size = size
        self._entries: "OrderedDict[str, CachedTracker]" = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, sender_id: str, last_id: Optional[int]) -> Optional[DialogueStateTracker]:
        """A copy of the remembered tracker when the database's highest event id is still `last_id`."""
        entry = self._entries.get(sender_id)
        if entry is None or last_id is None or entry.last_id != last_id:
            self._entries.pop(sender_id, None)
            return None
        self._entries.move_to_end(sender_id)
        return copy_tracker(entry.tracker)

    def put(self, sender_id: str, tracker: DialogueStateTracker, last_id: Optional[int]) -> None:
        """Remember `tracker` (freshly read, never handed out) as the database's state at `last_id`."""
        if last_id is None:
            self._entries.pop(sender_id, None)
            return
        self._entries[sender_id] = CachedTracker(tracker, last_id, len(tracker.events))
        self._entries.move_to_end(sender_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def stored_count(self, tracker: DialogueStateTracker, last_id: Optional[int]) -> Optional[int]:
        """How many of `tracker`'s events are stored, when it continues the remembered one (a copy this
        cache returned, same event objects) and the database is still at the remembered id; else None."""
        entry = self._entries.get(tracker.sender_id)
        if entry is None or last_id is None or entry.last_id != last_id or entry.stored == 0:
            return None
        if len(tracker.events) < entry.stored or tracker.events[entry.stored - 1] is not entry.tracker.events[-1]:
            return None
        return entry.stored

    def extend(
        self,
        sender_id: str,
        stored_events: Sequence[Dict[str, Any]],
        last_id: Optional[int],
        live_events: Sequence[Event] = (),
    ) -> None:
        """Apply the events just stored (their stored JSON, decoded) to the remembered tracker; forget it
        when they start a new session (a read then returns that session only).

        An event stored exactly as the live event reads in JSON (nothing was masked) is kept as the live
        object: what the policies remember of this turn (tools/rasa_patches/) is then still the same
        object next turn. (It may hold a tuple where a read would give a list, e.g. the parse data's
        token offsets: the same JSON.) Any other is rebuilt from what was stored."""
        entry = self._entries.get(sender_id)
        if entry is None:
            return
        pairs = zip(live_events, stored_events) if len(live_events) == len(stored_events) else ()
        kept = [event if _as_stored(event) == data else Event.from_parameters(data) for event, data in pairs]
        events: List[Event] = kept or [Event.from_parameters(data) for data in stored_events]
        if last_id is None or any(isinstance(event, SessionStarted) for event in events):
            self._entries.pop(sender_id, None)
            return
        for event in events:
            entry.tracker.update(event)
        entry.stored += len(events)
        entry.last_id = last_id

    def forget(self, sender_id: str) -> None:
        self._entries.pop(sender_id, None)
