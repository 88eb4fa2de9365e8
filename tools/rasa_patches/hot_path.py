"""Patches 1 and 2 of `tools.rasa_patches`: the custom-action response validated with validators built once
(see the package docstring; `all_subclasses` is cached by `apply`).

Rasa's response schema checks each event against `oneOf` 23 event schemas, one per event type, each
fixing `event` to its own constant: jsonschema tries all 23 for every event (about 4 ms per action
call here, 10 % of a turn). An event whose `event` names type X can only match the schema whose
constant is X, so checking that one schema is the same test. `validate_action_result` does that
first; whatever it does not accept goes through the full validator, which raises Rasa's own error.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any, Dict, Optional, Text, Tuple

EVENTS = "events"
EVENT = "event"


def _schema() -> Dict[str, Any]:
    from rasa.core.actions.action import RemoteAction

    return RemoteAction.action_response_format_spec()


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import validators

    schema = _schema()
    return validators.validator_for(schema)(schema)


@lru_cache(maxsize=1)
def _event_dispatch() -> Optional[Tuple[Any, Dict[str, Any]]]:
    """The schema without the events' `oneOf`, and a validator per event type; None when the schema is
    not of the shape that makes the dispatch the same test (each `oneOf` branch fixing its own `event`)."""
    from jsonschema import validators

    schema = _schema()
    try:
        items = schema["properties"][EVENTS]["items"]
        branches = items["oneOf"]
        names = [branch["properties"][EVENT]["const"] for branch in branches]
    except (KeyError, TypeError):
        return None
    if "$ref" in repr(schema) or len(set(names)) != len(names) or EVENT not in items.get("required", ()):
        return None
    outer = copy.deepcopy(schema)
    del outer["properties"][EVENTS]["items"]["oneOf"]
    cls = validators.validator_for(schema)
    return cls(outer), {name: cls(branch) for name, branch in zip(names, branches)}


def _valid_by_dispatch(result: Any) -> bool:
    """True when `result` is valid, checking each event against its own type's schema only; False when
    it is not, or when that can't be decided this way."""
    dispatch = _event_dispatch()
    if dispatch is None:
        return False
    outer, by_type = dispatch
    if not outer.is_valid(result):
        return False
    for event in result.get(EVENTS) or ():
        branch = by_type.get(event[EVENT])  # the outer schema made it an object with a string `event`
        if branch is None or not branch.is_valid(event):
            return False
    return True


def validate_action_result(result: Dict[Text, Any]) -> bool:
    """Rasa's `RemoteAction._validate_action_result`: True, or the error Rasa raises (jsonschema's best match
    of the full schema's errors, with Rasa's hint appended)."""
    if _valid_by_dispatch(result):
        return True
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response "
        "from the Action endpoint is valid. For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error
