"""Patches 3 and 4 of `tools.rasa_patches`: every structlog value masked after Rasa's anonymizer, and a
failed action call's error message without the tracker it echoes (issue 12)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Text

from core.secrets import mask_secrets

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


# -- When a part fails (issue 17; README "When a part fails") -----------------------------------------
# Rasa 3.6 answers from an empty conversation when its tracker store can't be read (FailSafeTrackerStore
# returns None and logs), says nothing when a custom action fails (MessageProcessor._run_action logs and
