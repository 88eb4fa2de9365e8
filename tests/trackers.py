"""Tracker fixtures for action tests: build a rasa_sdk Tracker, run an action, apply its events."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Tuple

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.state import SLOT_LANGUAGE

DOMAIN: Dict[str, Any] = {}


def make_tracker(
    intent: Optional[str] = None,
    *,
    slots: Optional[Dict[str, Any]] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    text: Optional[str] = None,
    intent_ranking: Optional[List[Dict[str, Any]]] = None,
    response_selector: Optional[Dict[str, Any]] = None,
) -> Tracker:
    """A tracker whose latest user message has `intent` and `entities`."""
    latest = {
        "text": text if text is not None else (f"/{intent}" if intent else ""),
        "intent": {"name": intent, "confidence": 1.0} if intent else {},
        "entities": entities or [],
        "intent_ranking": intent_ranking or ([{"name": intent, "confidence": 1.0}] if intent else []),
    }
    if response_selector is not None:
        latest["response_selector"] = response_selector
    all_slots = {SLOT_LANGUAGE: "en"}
    all_slots.update(slots or {})
    return Tracker(
        sender_id="test-user",
        slots=all_slots,
        latest_message=latest,
        events=[{"event": "user", "text": latest["text"], "parse_data": latest}],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run_action(action: Action, tracker: Tracker) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Run `action`; returns (messages sent, events returned)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return dispatcher.messages, events


def slots_after(slots: Dict[str, Any], events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The slots once `events` are applied."""
    out = dict(slots)
    for event in events:
        if event.get("event") == "slot":
            out[event["name"]] = event["value"]
    return out


class Conversation:
    """Drives actions turn by turn, carrying slots as Rasa would."""

    def __init__(self) -> None:
        self.slots: Dict[str, Any] = {}
        self.sent: List[Dict[str, Any]] = []

    def turn(self, action: Action, intent: str, **kwargs: Any) -> List[Dict[str, Any]]:
        tracker = make_tracker(intent, slots=self.slots, **kwargs)
        messages, events = run_action(action, tracker)
        self.slots = slots_after(self.slots, events)
        self.sent += messages
        return messages


@pytest.fixture
def conversation() -> Conversation:
    return Conversation()


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def payloads(messages: List[Dict[str, Any]]) -> List[str]:
    return [b["payload"] for m in messages for b in m.get("buttons") or []]
