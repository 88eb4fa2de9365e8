"""Two measured fixes to Rasa 3.6's per-message hot path, applied by `tools.serve` only.

Profiled with cProfile over 80 messages (README, "Lean and fast"):

1. `RemoteAction._validate_action_result` calls `jsonschema.validate(result, schema)`
   for every custom-action response; `validate` first re-checks the schema itself
   against the JSON-Schema meta-schema: about 80 ms per action call here (5.7 s of
   9.7 s). The response is still validated against the same schema, with a
   validator built once, and an invalid one raises what `jsonschema.validate` raises
   (the `best_match` of the errors) with Rasa's own message appended.
2. `all_subclasses(Event)` walks the class tree again for every event Rasa
   deserializes (thousands per message as a conversation grows). The classes don't
   change once the server runs, so the walk is remembered per class.

Both replace Rasa internals, so they are applied only on the Rasa versions they were
tested with (`TESTED_RASA_VERSIONS`); `apply` refuses any other.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Text

TESTED_RASA_VERSIONS = frozenset({"3.6.21"})


class UntestedRasaVersion(RuntimeError):
    """The installed Rasa is not one the patches were tested with."""


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    return validators.validator_for(schema)(schema)


def validate_action_result(result: Dict[Text, Any]) -> bool:
    """Rasa's `RemoteAction._validate_action_result`, with the schema validator built once."""
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


def check_rasa_version(version: str) -> None:
    """Raise `UntestedRasaVersion` unless `version` is one the patches were tested with."""
    if version not in TESTED_RASA_VERSIONS:
        raise UntestedRasaVersion(
            f"Rasa {version} is installed, but tools/rasa_patches.py was tested with "
            f"{', '.join(sorted(TESTED_RASA_VERSIONS))} only: install the pinned version "
            "(requirements.txt) or re-measure the patches and add the version."
        )


def apply() -> None:
    """Check the Rasa version, then install both patches (idempotent)."""
    import rasa
    import rasa.shared.utils.common as common
    from rasa.core.actions.action import RemoteAction

    check_rasa_version(rasa.__version__)
    RemoteAction._validate_action_result = staticmethod(validate_action_result)  # type: ignore[method-assign,assignment]
    if not hasattr(common.all_subclasses, "cache_info"):
        common.all_subclasses = lru_cache(maxsize=None)(common.all_subclasses)
