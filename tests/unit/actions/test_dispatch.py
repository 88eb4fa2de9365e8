"""actions/dispatch.py: rendered messages go out in order, with their buttons."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.dispatch import send


def test_each_message_is_uttered_in_order_with_its_buttons() -> None:
    dispatcher = CollectingDispatcher()
    buttons = [{"title": "Yes", "payload": "/affirm"}]
    send(dispatcher, [{"text": "first"}, {"text": "second", "buttons": buttons}, {"text": "third", "buttons": None}])
    assert [(m["text"], m["buttons"]) for m in dispatcher.messages] == [
        ("first", []),
        ("second", buttons),
        ("third", []),
    ]


def test_nothing_to_send_sends_nothing() -> None:
    dispatcher = CollectingDispatcher()
    send(dispatcher, iter([]))
    assert dispatcher.messages == []
