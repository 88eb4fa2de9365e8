"""tools/rasa_patches (the package, hot_path.py, log_masking.py): the fixes to Rasa keep its behaviour, mask
what it logs, and refuse a Rasa version they were not tested with."""

from __future__ import annotations

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
    hits = cached.cache_info().hits
    cached(Event)
    cached(Event)
    assert cached.cache_info().hits > hits  # the walk is remembered
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


def test_structlog_events_are_masked_after_rasas_anonymizer() -> None:
    """Rasa's REST channel logs the whole message at ERROR when handling it fails (issue 12)."""
    import rasa.utils.log_utils as log_utils

    processor = log_utils._anonymizer
    assert getattr(processor, "masks_secrets", False)
    rasa_patches.apply()
    assert log_utils._anonymizer is processor  # applying again wraps nothing twice

    logged = processor(
        None,
        "error",
        {
            "event": "rest.message.received.failure",
            "text": "my password is Hunter2! and it stopped working",
            "rasa_events": [SlotSet("ticket_description", "验证码是482913，登录不了")],
            "parse_data": {"text": "pw: Hunter2!", "confidence": 0.9},
            "exc_info": True,
        },
    )
    assert logged["text"] == "my password is [hidden] and it stopped working"
    assert "482913" not in str(logged["rasa_events"]) and "[hidden]" in str(logged["rasa_events"])
    assert logged["parse_data"] == {"text": "pw: [hidden]", "confidence": 0.9}
    assert (logged["event"], logged["exc_info"]) == ("rest.message.received.failure", True)


def test_a_failed_action_calls_error_message_leaves_out_the_tracker_it_echoes() -> None:
    from rasa.utils.endpoints import ClientResponseError

    body = b'{"error": "boom", "request_body": {"tracker": {"latest_message": {"text": "pw: Hunter2!"}}}}'
    error = ClientResponseError(500, "Internal Server Error", body)
    assert str(error) == f"500, Internal Server Error, body of {len(body)} bytes (not shown)"
    assert "Hunter2" not in repr(error)
    assert (error.status, error.message, error.text) == (500, "Internal Server Error", body)  # Rasa reads .text
