"""The bot's own sentences (knowledge file, `phrases:`), filled in and localised."""

from __future__ import annotations

from typing import Any, Optional

from core.knowledge import knowledge


def say(key: str, lang: Optional[str] = None, **values: Any) -> str:
    """The phrase `key` in `lang` (default language when missing), with `{name}` filled in."""
    return knowledge().phrases[key].get(lang).format(**values)
