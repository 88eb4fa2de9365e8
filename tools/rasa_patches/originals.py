"""Rasa's own functions, kept by `tools.rasa_patches.apply` before it replaces them (a patch that
delegates to Rasa, and the tests comparing a patch with Rasa's original, read them here)."""

from typing import Any, Callable, Dict

RASA_ORIGINALS: Dict[str, Callable[..., Any]] = {}
