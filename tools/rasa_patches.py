"""Fixes to Rasa 3.6, applied by `tools.serve` only: two to its per-message hot path, two to its logs.

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

And what Rasa logs (issue 12, SECURITY.md). 3. Rasa's REST channel logs the user's
whole message at ERROR when handling it fails or times out (`rest.message.received.failure`,
e.g. Redis unreachable, the client gone), and other structlog events carry texts and events.
Every value of a structlog event is masked (`core.secrets.mask_secrets`) after Rasa's own
`_anonymizer` processor, which `configure_structlog` puts first in the chain. 4. When a custom
action fails, the action server answers 500 with the whole tracker as `request_body`, which
`ClientResponseError` puts in its message and Rasa logs at ERROR with the traceback: its message
gives the body's size instead (the body itself stays in `.text`, which Rasa reads for a 400).

All replace Rasa internals, so they are applied only on the Rasa versions they were
tested with (`TESTED_RASA_VERSIONS`); `apply` refuses any other.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Dict, Text

from core.secrets import mask_secrets

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


# structlog's own keys: the event name and what its processors read (exc_info must stay a tuple or bool).
_LOG_KEYS_KEPT = frozenset({"event", "exc_info", "stack_info", "log_level", "level", "timestamp", "logger"})
LogProcessor = Callable[[Any, str, Dict[str, Any]], Dict[str, Any]]


def mask_log_value(value: Any) -> Any:
    """A logged value with every secret masked; objects (Rasa events, messages) become their masked repr."""
    if isinstance(value, str):
        return mask_secrets(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {key: mask_log_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [mask_log_value(item) for item in value]
    return mask_secrets(repr(value))


class _MaskingLogProcessor:
    """A structlog processor: `anonymizer`, then every value of the event masked."""

    masks_secrets = True  # marks Rasa's processor as already wrapped (apply() is idempotent)

    def __init__(self, anonymizer: LogProcessor) -> None:
        self.anonymizer = anonymizer

    def __call__(self, logger: Any, method_name: str, event_dict: Dict[str, Any]) -> Dict[str, Any]:
        event_dict = self.anonymizer(logger, method_name, event_dict)
        return {key: value if key in _LOG_KEYS_KEPT else mask_log_value(value) for key, value in event_dict.items()}


def masking_log_processor(anonymizer: LogProcessor) -> LogProcessor:
    """Rasa's structlog `_anonymizer`, then every value of the event masked."""
    return _MaskingLogProcessor(anonymizer)


def _client_response_error_init(self: Any, status: int, message: Text, text: Any) -> None:
    """Rasa's `ClientResponseError.__init__`, with the response body left out of the message."""
    import aiohttp

    self.status, self.message, self.text = status, message, text
    aiohttp.ClientError.__init__(self, f"{status}, {message}, body of {len(text or b'')} bytes (not shown)")


def check_rasa_version(version: str) -> None:
    """Raise `UntestedRasaVersion` unless `version` is one the patches were tested with."""
    if version not in TESTED_RASA_VERSIONS:
        raise UntestedRasaVersion(
            f"Rasa {version} is installed, but tools/rasa_patches.py was tested with "
            f"{', '.join(sorted(TESTED_RASA_VERSIONS))} only: install the pinned version "
            "(requirements.txt) or re-measure the patches and add the version."
        )


def apply() -> None:
    """Check the Rasa version, then install the patches (idempotent)."""
    import rasa
    import rasa.shared.utils.common as common
    import rasa.utils.log_utils as log_utils
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import ClientResponseError

    check_rasa_version(rasa.__version__)
    RemoteAction._validate_action_result = staticmethod(validate_action_result)
    if not hasattr(common.all_subclasses, "cache_info"):
        common.all_subclasses = lru_cache(maxsize=None)(common.all_subclasses)
    # configure_structlog (run by Rasa's CLI after this) reads the module's _anonymizer.
    if not getattr(log_utils._anonymizer, "masks_secrets", False):
        log_utils._anonymizer = masking_log_processor(log_utils._anonymizer)
    ClientResponseError.__init__ = _client_response_error_init
