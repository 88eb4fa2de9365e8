"""Rows as the code before masking wrote them, for the retention and scrub tests.

Conversations go through Rasa's plain `SQLTrackerStore` (what endpoints.yml named before
stores.masking existed): the user's text, its parse data, metadata, a slot and the bot's echo, all
raw. Tickets are the INSERTs of the ticket store without its masking: the description, `.eml`
answer, transcript and staff comments as typed.

    store = plain_store(dialect="sqlite", db=str(path))
    save_conversation(store, "alice", MESSAGES[:3], at=time.time() - 100 * DAY)
    insert_ticket(connection, number=1, status="closed", closed_at=..., text=MESSAGES[0][0])
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import Connection

from tickets.schema import ticket_events, tickets

DAY = 86400.0

# (message, the secret in it, its intent): each secret is one mask_secrets recognises.
MESSAGES: List[Tuple[str, str, str]] = [
    ("my password is Hunter2! and it stopped working", "Hunter2!", "forgot_password"),
    ("验证码是482913，登录不了", "482913", "verification_failed"),
    ("I tried mypassword=Tr0ub4dor&3 and got locked out", "Tr0ub4dor&3", "forgot_password"),
    ("the code 731 642 never works", "731 642", "verification_failed"),
    ("我的密码是Abc12345，登录不了", "Abc12345", "forgot_password"),
    (
        "my api key is sk-live-9fQ2xV7pL4mZ8rT1wK3nB6cY and it leaked",
        "sk-live-9fQ2xV7pL4mZ8rT1wK3nB6cY",
        "out_of_scope",
    ),
]
SECRETS: Tuple[str, ...] = tuple(secret for _, secret, _ in MESSAGES)
DOMAIN = Domain.from_dict(
    {
        "intents": sorted({intent for _, _, intent in MESSAGES}),
        "slots": {"ticket_description": {"type": "text", "mappings": [{"type": "custom"}]}},
    }
)


def plain_store(**kwargs: Any) -> SQLTrackerStore:
    """Rasa's own SQL tracker store, which writes events as they are."""
    return SQLTrackerStore(domain=DOMAIN, **kwargs)


def conversation_events(messages: Sequence[Tuple[str, str, str]], at: float) -> List[Event]:
    """A session with one turn per message, every event at Unix time `at` (+ a second per turn)."""
    events: List[Event] = [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
    ]
    for turn, (text, secret, intent) in enumerate(messages, start=1):
        when = at + turn
        start = text.index(secret)
        parse_data = {
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": [{"entity": "ticket_id", "value": secret, "start": start, "end": start + len(secret)}],
            "intent_ranking": [{"name": intent, "confidence": 0.9}],
        }
        events += [
            UserUttered(
                text,
                intent=parse_data["intent"],
                entities=parse_data["entities"],
                parse_data=parse_data,
                input_channel="rest",
                metadata={"said": [text]},
                timestamp=when,
            ),
            SlotSet("ticket_description", text, timestamp=when),
            ActionExecuted("action_start_guide", policy="RulePolicy", confidence=1.0, timestamp=when),
            BotUttered(f"You said: {text}", timestamp=when),
            ActionExecuted("action_listen", timestamp=when),
        ]
    return events


def save_conversation(
    store: SQLTrackerStore, sender_id: str, messages: Sequence[Tuple[str, str, str]], at: float
) -> int:
    """Store a conversation through `store`; returns the number of events written."""
    events = conversation_events(messages, at)
    tracker = DialogueStateTracker.from_events(sender_id, events, DOMAIN.slots)
    asyncio.run(store.save(tracker))
    return len(events)


def continue_conversation(
    store: SQLTrackerStore, sender_id: str, messages: Sequence[Tuple[str, str, str]], at: float
) -> int:
    """A stored conversation goes on: a new session at Unix time `at`, as Rasa saves it; returns the events added."""
    tracker = asyncio.run(store.retrieve(sender_id))
    assert tracker is not None, sender_id
    events = conversation_events(messages, at)
    for event in events:
        tracker.update(event)
    asyncio.run(store.save(tracker))
    return len(events)


def insert_ticket(
    connection: Connection,
    number: int,
    text: str,
    status: str = "open",
    closed_at: Optional[datetime] = None,
    comments: Iterable[str] = (),
) -> None:
    """A ticket row and its events as the unmasked store wrote them: its INSERTs without mask_secrets."""
    created = (closed_at or datetime.now(timezone.utc)) - timedelta(days=3)
    transcript = [{"who": "user", "text": text}, {"who": "bot", "text": f"You said: {text}"}]
    connection.execute(
        tickets.insert().values(
            number=number,
            idempotency_key=f"key-{number}",
            created_at=created,
            updated_at=closed_at or created,
            status=status,
            priority="high",
            queue="support",
            steps_tried="[]",
            contact_email="anna@example.com",
            description=f"It says: {text}",
            eml_delivery=f"I will forward it; {text}",
            language="en",
            channel="rest",
            sender_id=f"user-{number}",
            transcript=json.dumps(transcript, ensure_ascii=False),
        )
    )
    rows = [("created", "assistant", "opened from rest", created)]
    if closed_at is not None:
        rows.append(("status", "anna", "open → closed", closed_at))
    rows += [("comment", "anna", comment, created + timedelta(hours=1)) for comment in comments]
    for kind, author, detail, when in rows:
        connection.execute(
            ticket_events.insert().values(
                ticket_number=number, created_at=when, author=author, kind=kind, detail=detail
            )
        )


def secrets_in(raw: bytes) -> List[str]:
    """The SECRETS found in `raw`, as written (UTF-8) or JSON-escaped (json.dumps' default)."""
    found = []
    for secret in SECRETS:
        forms = {secret.encode("utf-8"), json.dumps(secret)[1:-1].encode("ascii")}
        if any(form in raw for form in forms):
            found.append(secret)
    return found
