"""The speed fixes to Rasa keep its behaviour, and refuse a Rasa version they were not tested with."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Dict

import pytest
import rasa
import rasa.shared.utils.common as common
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event, SlotSet
from rasa.utils.endpoints import EndpointConfig

from tools import rasa_patches

BAD_RESPONSES = [
    {"events": "not a list"},
    {"events": [{"event": "no_such_event"}]},
    {"responses": ["not an object"]},
    {"events": [{"event": "slot", "name": 3}], "responses": "x"},
]


@pytest.fixture(scope="module", autouse=True)
def patched() -> None:
    rasa_patches.apply()


@pytest.fixture
def action() -> RemoteAction:
    return RemoteAction("action_start_guide", EndpointConfig("http://127.0.0.1:1/webhook"))


def test_apply_installs_both_patches_once() -> None:
    assert RemoteAction._validate_action_result is rasa_patches.validate_action_result
    cached = common.all_subclasses
    assert cached.cache_info().currsize >= 0  # type: ignore[attr-defined]
    rasa_patches.apply()
    assert common.all_subclasses is cached  # applying again wraps nothing twice


def test_valid_responses_pass(action: RemoteAction) -> None:
    assert action._validate_action_result(
        {"events": [{"event": "slot", "name": "problem", "value": "x"}], "responses": [{"text": "hi"}]}
    )


@pytest.mark.parametrize("bad", BAD_RESPONSES)
def test_invalid_responses_raise_what_rasa_raises(action: RemoteAction, bad: Dict[str, Any]) -> None:
    """The same error as Rasa's own `jsonschema.validate` (its best match), with Rasa's hint appended."""
    with pytest.raises(ValidationError) as unpatched:
        validate(bad, RemoteAction.action_response_format_spec())
    with pytest.raises(ValidationError, match="Failed to validate Action server response") as patched:
        action._validate_action_result(bad)
    assert patched.value.message.startswith(unpatched.value.message)
    assert list(patched.value.path) == list(unpatched.value.path)
    assert patched.value.validator == unpatched.value.validator


def test_event_classes_are_still_found() -> None:
    assert SlotSet in common.all_subclasses(Event)
    assert Event.resolve_by_type("slot") is SlotSet


def test_the_installed_rasa_is_a_tested_one() -> None:
    rasa_patches.check_rasa_version(rasa.__version__)


@pytest.mark.parametrize("version", ["3.6.20", "3.7.0", "4.0.0"])
def test_other_rasa_versions_are_refused(version: str) -> None:
    with pytest.raises(rasa_patches.UntestedRasaVersion, match=version):
        rasa_patches.check_rasa_version(version)


def test_serve_refuses_to_start_on_an_untested_rasa() -> None:
    """The entry point exits 1 with the reason, before Rasa parses any argument."""
    code = (
        "import rasa, sys; rasa.__version__ = '9.9.9'; sys.argv = ['serve', 'run']; "
        "from tools import serve; serve.main()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Not starting: Rasa 9.9.9 is installed" in result.stderr
