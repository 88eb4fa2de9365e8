"""The speed fixes to Rasa keep its behaviour: invalid action responses are still refused."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event, SlotSet
from rasa.utils.endpoints import EndpointConfig

import components  # noqa: F401  (applies the patches)
import rasa.shared.utils.common as common
from components import rasa_patches


@pytest.fixture
def action() -> RemoteAction:
    return RemoteAction("action_start_guide", EndpointConfig("http://127.0.0.1:1/webhook"))


def test_the_patches_are_installed() -> None:
    assert RemoteAction._validate_action_result is rasa_patches._validate_action_result
    assert hasattr(common.all_subclasses, "cache_info")
    rasa_patches.apply()  # idempotent
    assert hasattr(common.all_subclasses.__wrapped__, "__call__")


def test_valid_responses_pass(action: RemoteAction) -> None:
    assert action._validate_action_result({"events": [{"event": "slot", "name": "problem", "value": "x"}],
                                           "responses": [{"text": "hi"}]})


@pytest.mark.parametrize("bad", [{"events": "not a list"}, {"events": [{"event": "no_such_event"}]},
                                 {"responses": ["not an object"]}])
def test_invalid_responses_are_still_refused(action: RemoteAction, bad) -> None:
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result(bad)


def test_event_classes_are_still_found() -> None:
    assert SlotSet in common.all_subclasses(Event)
    assert Event.resolve_by_type("slot") is SlotSet
