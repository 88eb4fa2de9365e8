"""A Rasa SQL tracker store that never writes a secret the user typed (issue 12).

Every event is masked (`core.secrets.mask_secrets`) as it is serialised for its INSERT: the
user's text, `parse_data` (the text again, entity values cut from it, everything but model
labels), metadata (every string, at any depth), slot values and the bot's utterances (which
may echo the user, e.g. the ticket summary). Names the dialogue needs back unchanged (event
type, action, slot, intent and entity names, policy, message id) are kept as they are.

NLU and the actions run on the live message before the tracker is saved; the next turns read
the masked history. Events already stored are never rewritten. The engine is created with
`hide_parameters=True`, so a failing INSERT's error (and Rasa's log of it) shows no values.

Referenced from endpoints files as `type: stores.masking.MaskingSQLTrackerStore`, with the
keys of `type: SQL`; `stores.strict.StrictSQLTrackerStore` (production profile) inherits it.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from typing import Any, Dict, FrozenSet, Iterator, List, Mapping, Optional, Text, cast

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.secrets import MASK, mask_secrets
from stores.tracker_cache import TrackerCache, copy_tracker

# Keys whose values are labels from the model, the domain or Rasa itself, never typed text; the
# tracker needs them back as they were (SQLTrackerStore's intent_name/action_name columns, policies).
LABEL_KEYS: FrozenSet[str] = frozenset(
    {
        "event",
        "name",  # action, slot, intent (in parse_data) and reminder names
        "policy",
        "input_channel",
        "message_id",
        "intent",  # parse_data["intent"] = {"name", "confidence"}; a reminder's intent name
        "entity",
        "extractor",
        "processors",
        "intent_response_key",
        "utter_action",
        "all_retrieval_intents",
    }
)
METADATA_KEY = "metadata"

# Strings already found to hold no secret (the bot's texts, buttons and slot values come back every turn):
# `mask_secrets` is a function of its text alone, so a string found clean once is returned as it is.
# Only clean strings are kept, so nothing kept is a secret; bounded in count and length.
CLEAN_STRINGS_KEPT = 4096
CLEAN_STRING_MAX_CHARS = 4096
_clean_strings: "OrderedDict[str, None]" = OrderedDict()


def _masked_string(text: str) -> str:
    """`mask_secrets(text)`, remembering the texts it leaves unchanged."""
    if text in _clean_strings:
        _clean_strings.move_to_end(text)
        return text
    masked = mask_secrets(text)
    if masked == text and len(text) <= CLEAN_STRING_MAX_CHARS:
        _clean_strings[text] = None
        if len(_clean_strings) > CLEAN_STRINGS_KEPT:
            _clean_strings.popitem(last=False)
    return masked


def _mask_value(value: Any, keep: FrozenSet[str]) -> Any:
    """`value` with every string masked, except under the keys in `keep`; a new structure."""
    if isinstance(value, str):
        return _masked_string(value)
    if isinstance(value, Mapping):
        return {
            key: item
            if key in keep
            else _mask_value(item, frozenset() if key == METADATA_KEY else keep)  # metadata: every string
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_mask_value(item, keep) for item in value]
    return value


def _hide_entity_values(entities: Any, text: str, masked_text: str) -> Any:
    """Entities whose value is a piece of a secret in `text` (gone from `masked_text`) get MASK."""
    if not isinstance(entities, list) or masked_text == text:
        return entities
    hidden = []
    for entity in entities:
        if isinstance(entity, Mapping):
            entity = dict(entity)
            for key in ("value", "text"):
                value = entity.get(key)
                if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                    piece = str(value)
                    if piece and piece in text and piece not in masked_text:
                        entity[key] = MASK
        hidden.append(entity)
    return hidden


def mask_event(data: Mapping[str, Any]) -> Dict[str, Any]:
    """A serialised Rasa event (`Event.as_dict()`) with every secret the user typed masked.

    Returns a new dict; `data` (which shares `parse_data` with the live event) is not changed.
    """
    text, parse_data = data.get("text"), data.get("parse_data")
    if (
        data.get("event") == "user"
        and isinstance(text, str)
        and isinstance(parse_data, Mapping)
        and parse_data.get("entities")
    ):
        entities = _hide_entity_values(parse_data.get("entities"), text, mask_secrets(text))
        data = {**data, "parse_data": {**parse_data, "entities": entities}}
    return cast(Dict[str, Any], _mask_value(data, LABEL_KEYS))


class MaskedEvent:
    """An event as the store writes it: its `type_name` and its masked `as_dict()`.

    SQLTrackerStore.save and TrackerStore._stream_new_events use nothing else of an event.
    """

    __slots__ = ("type_name", "_data")

    def __init__(self, event: Event) -> None:
        self.type_name = event.type_name
        self._data = mask_event(event.as_dict())

    def as_dict(self) -> Dict[str, Any]:
        return self._data


class MaskingSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store, writing masked events through an engine that hides parameters.

    Same keys as `type: SQL` (dialect, url, port, db, username, password, login_db, query).
    """

    engine: Engine  # set by SQLTrackerStore.__init__, replaced by _hide_parameters

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hide_parameters()
        self._keep_a_write_ahead_log()
        self._last_id_query = sa.select(sa.func.max(self.SQLEvent.id)).where(
            self.SQLEvent.sender_id == sa.bindparam("sender_id")
        )
        self._trackers = TrackerCache()

    def _hide_parameters(self) -> None:
        """Replace the engine Rasa created by one with `hide_parameters=True`, same URL and options.

        Rasa builds its engine inside SQLTrackerStore.__init__ and only creates tables with it
        (DDL, no parameters), so swapping it here, before any event is written, is enough.
        """
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, hide_parameters=True, **create_engine_kwargs(url))
        self.sessionmaker = sessionmaker(bind=self.engine)

    def _keep_a_write_ahead_log(self) -> None:
        """An SQLite file gets a write-ahead log: a commit appends to the log and syncs it once
        (synchronous stays FULL, so a committed turn survives a crash) instead of a rollback journal's
        several syncs, and readers (make scrub, purge) no longer block the writer. Kept in the file."""
        url = self.engine.url
        if self.engine.dialect.name == "sqlite" and url.database not in (None, "", ":memory:"):
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")

    def _last_event_id(self, session: Session, sender_id: Text) -> Optional[int]:
        """The conversation's highest event id (None without events): one index lookup, one statement
        compiled once (an ORM query is built anew on every call: four times the time)."""
        value = session.execute(self._last_id_query, {"sender_id": sender_id}).scalar()
        return None if value is None else int(value)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """Rasa's read of the latest session, from the remembered tracker while no event was added since
        (stores/tracker_cache.py); the result is the same either way."""
        with self.session_scope() as session:
            last_id = self._last_event_id(session, sender_id)
        tracker = self._trackers.get(sender_id, last_id)
        if tracker is not None:
            return tracker
        tracker = await super().retrieve(sender_id)
        if tracker is None:
            self._trackers.forget(sender_id)
            return None
        self._trackers.put(sender_id, tracker, last_id)
        return copy_tracker(tracker)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's `SQLTrackerStore.save` (masked events), without counting the stored events again when
        the tracker continues the remembered one; the remembered tracker gets the stored events."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            last_id = self._last_event_id(session, tracker.sender_id)
            stored = self._trackers.stored_count(tracker, last_id)
            live: List[Event] = []
            if stored is None:
                events: Iterator = self._additional_events(session, tracker)
            else:
                live = list(itertools.islice(tracker.events, stored, None))
                events = (MaskedEvent(event) for event in live)
            rows = []
            for event in events:
                data = event.as_dict()
                rows.append(
                    {
                        "sender_id": tracker.sender_id,
                        "type_name": event.type_name,
                        "timestamp": data.get("timestamp"),
                        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                )
            new_last_id = last_id
            if rows:
                # One INSERT for the turn's events (executemany), not one ORM object each: the same
                # rows, in the same order (ids ascending), a third of the time.
                session.execute(sa.insert(self.SQLEvent.__table__), rows)
                new_last_id = self._last_event_id(session, tracker.sender_id)
            texts = [row["data"] for row in rows]
            session.commit()
        if stored is None:
            self._trackers.forget(tracker.sender_id)
        else:
            self._trackers.extend(tracker.sender_id, [json.loads(text) for text in texts], new_last_id, live)

    def _additional_events(self, session: Session, tracker: DialogueStateTracker) -> Iterator:
        """The events not stored yet, masked: `save` serialises these for its INSERTs."""
        return (MaskedEvent(event) for event in super()._additional_events(session, tracker))

    async def _stream_new_events(self, event_broker: EventBroker, new_events: List[Event], sender_id: Text) -> None:
        """An event broker (none is configured today) gets the masked events too."""
        masked = cast(List[Event], [MaskedEvent(event) for event in new_events])
        await super()._stream_new_events(event_broker, masked, sender_id)
