"""Two measured fixes to Rasa 3.6's per-message hot path, applied when our components are imported.

Profiled with cProfile over 80 messages (README, "Lean and fast"):

1. `RemoteAction._validate_action_result` calls `jsonschema.validate(result, schema)`
   for every custom-action response; `validate` first re-checks the schema itself
   against the JSON-Schema meta-schema: about 80 ms per action call here (5.7 s of
   9.7 s). The response is still validated against the same schema, with a
   validator built once; errors are reported exactly as Rasa does.
2. `all_subclasses(Event)` walks the class tree again for every event Rasa
   deserializes (thousands per message as a conversation grows). The classes don't
   change once the server runs, so the walk is remembered per class.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Text

from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import validators

    schema = RemoteAction.action_response_format_spec()
    return validators.validator_for(schema)(schema)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    from jsonschema import ValidationError

    try:
        _validator().validate(result)
        return True
    except ValidationError as error:
        error.message += (". Failed to validate Action server response from API, make sure your response "
                          "from the Action endpoint is valid. For more information about the format visit "
                          f"{DOCS_BASE_URL}/custom-actions")
        raise error


def apply() -> None:
    """Install both patches (idempotent)."""
    import rasa.shared.utils.common as common

    RemoteAction._validate_action_result = _validate_action_result
    if not hasattr(common.all_subclasses, "cache_info"):
        common.all_subclasses = lru_cache(maxsize=None)(common.all_subclasses)
