"""tools/rasa_patches/hot_path.py: checking each event against its own type's schema decides exactly what
Rasa's full `oneOf` schema decides, on every event type Rasa has and on broken variants of each."""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterator, List

import pytest
from jsonschema import validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.core import events as rasa_events

from tools.rasa_patches.hot_path import _event_dispatch, _valid_by_dispatch, validate_action_result

SCHEMA = RemoteAction.action_response_format_spec()
FULL = validators.validator_for(SCHEMA)(SCHEMA)


def every_event_type() -> List[Dict[str, Any]]:
    """One event of each type Rasa defines, as the action server would send it."""
    made = [
        rasa_events.UserUttered("hi", {"name": "greet", "confidence": 0.9}, [], {"text": "hi"}, input_channel="rest"),
        rasa_events.ActionExecuted("action_start_guide", policy="RulePolicy", confidence=1.0),
        rasa_events.SlotSet("problem", "forgot_password"),
        rasa_events.SlotSet("steps_failed", ["a", "b"]),
        rasa_events.BotUttered("Step 1", {"buttons": [{"title": "Next", "payload": "/next_step"}]}),
        rasa_events.ActiveLoop("ticket_form"),
        rasa_events.ActiveLoop(None),
        rasa_events.FollowupAction("action_listen"),
        rasa_events.Restarted(),
        rasa_events.SessionStarted(),
        rasa_events.ReminderScheduled("greet", trigger_date_time=rasa_events.datetime.now(), name="r"),
        rasa_events.ReminderCancelled(name="r"),
        rasa_events.ActionReverted(),
        rasa_events.UserUtteranceReverted(),
        rasa_events.ConversationPaused(),
        rasa_events.ConversationResumed(),
        rasa_events.AllSlotsReset(),
        rasa_events.LoopInterrupted(True),
        rasa_events.ActionExecutionRejected("ticket_form"),
        rasa_events.EntitiesAdded([{"entity": "role", "value": "user"}]),
        rasa_events.DefinePrevUserUtteredFeaturization(False),
        rasa_events.AgentUttered("agent says"),
        rasa_events.StoryExported("stories.yml"),
    ]
    return [event.as_dict() for event in made]


BROKEN_VALUES: List[Any] = [None, 7, "text", [], {}, True, 1.5]


def variants(event: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    """The event with each key dropped, and each value replaced by values of other types."""
    for key in list(event):
        dropped = dict(event)
        del dropped[key]
        yield dropped
        for value in BROKEN_VALUES:
            changed = copy.deepcopy(event)
            changed[key] = value
            yield changed
    yield {**event, "event": "no_such_event"}


def cases() -> Iterator[Any]:
    events = every_event_type()
    yield {"events": events, "responses": [{"text": "hi", "buttons": []}]}
    yield {"events": [], "responses": []}
    yield {}
    for event in events:
        yield {"events": [event], "responses": []}
        for variant in variants(event):
            yield {"events": [variant], "responses": []}
    for broken in BROKEN_VALUES:
        yield {"events": broken, "responses": []}
        yield {"events": [broken], "responses": []}
        yield {"events": [], "responses": broken}
        yield {"events": [], "responses": [broken]}


def test_the_schema_has_the_shape_the_dispatch_needs() -> None:
    assert _event_dispatch() is not None
    assert len(every_event_type()) >= len(SCHEMA["properties"]["events"]["items"]["oneOf"])


def test_the_dispatch_decides_what_the_full_schema_decides() -> None:
    checked = accepted = 0
    for result in cases():
        expected = FULL.is_valid(result)
        assert _valid_by_dispatch(result) is expected, result
        checked += 1
        accepted += expected
    assert checked > 500 and 20 < accepted < checked  # both kinds, many of each


@pytest.mark.parametrize("result", [r for r in cases() if not FULL.is_valid(r)][:40])
def test_what_it_refuses_raises_rasas_error(result: Any) -> None:
    with pytest.raises(Exception, match="Failed to validate Action server response"):
        validate_action_result(result)
