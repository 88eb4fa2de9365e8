"""The bot's own sentences (knowledge file, `phrases:`), filled in and localised."""

from __future__ import annotations

from typing import Any, Optional, Set

from core.chat import NOTICE_SENT_DM, NOTICE_WRITE_DIRECTLY
from core.knowledge import knowledge


def say(key: str, lang: Optional[str] = None, **values: Any) -> str:
    """The phrase `key` in `lang` (default language when missing), with `{name}` filled in."""
    return knowledge().phrases[key].get(lang).format(**values)


def say_in_language_or_all(key: str, lang: Optional[str]) -> str:
    """The phrase `key` in `lang`; when the language is not known (None, or one the knowledge file lacks),
    in every language of the knowledge file, one line each (e.g. a button payload while the
    conversation can't be read)."""
    languages = list(knowledge().phrases[key].values)
    if lang in languages:
        return say(key, lang)
    return "\n".join(say(key, language) for language in languages)


def privacy_notices() -> Set[str]:
    """Every privacy notice (core/chat.py) in every language: a channel shows each at most once per turn."""
    return {say(key, lang) for key in (NOTICE_SENT_DM, NOTICE_WRITE_DIRECTLY) for lang in knowledge().languages}
