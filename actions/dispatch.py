"""Sending rendered messages through a rasa_sdk dispatcher."""

from __future__ import annotations

from typing import Any, Dict, Iterable

from rasa_sdk.executor import CollectingDispatcher


def send(dispatcher: CollectingDispatcher, messages: Iterable[Dict[str, Any]]) -> None:
    """Utter each message (text with optional buttons) in order."""
    for message in messages:
        dispatcher.utter_message(text=message["text"], buttons=message.get("buttons") or [])
