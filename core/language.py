"""Which language a message is written in (pure functions: no Rasa imports).

A message with any Chinese character is Chinese, also when it carries an English
error code (`收到ESO_LOCAL_SPAM退信`). A message with Latin words is English.
Error codes, ticket ids, addresses, links, numbers, emoji and button payloads say
nothing about the language: such a message keeps the conversation's language.
"""

from __future__ import annotations

import re
from typing import Optional

ENGLISH = "en"
CHINESE = "zh"
_NEUTRAL = re.compile(
    r"\S+@\S+"  # e-mail addresses
    r"|https?://\S+|www\.\S+"  # links
    r"|\b[A-Z0-9]+(?:[_-][A-Z0-9]+)+\b"  # codes: ESO_LOCAL_SPAM, ALM-000123, 554-5.7.1
    r"|\b[A-Z]{2,}\d*\b"  # acronyms alone: SMS, 2FA, OK
)


def has_cjk(text: str) -> bool:
    """True when the text contains a CJK ideograph."""
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def detect_language(text: Optional[str]) -> Optional[str]:
    """`zh`, `en`, or None when the message says nothing about its language."""
    if not text or text.lstrip().startswith("/"):
        return None
    if has_cjk(text):
        return CHINESE
    words = re.sub(r"[^A-Za-z]+", " ", _NEUTRAL.sub(" ", text)).split()
    return ENGLISH if any(len(word) > 1 or word.lower() in ("i", "a") for word in words) else None
