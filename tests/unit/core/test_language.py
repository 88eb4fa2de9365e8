"""core/language.py: which language a message is written in."""

from __future__ import annotations

from typing import Optional

import pytest

from core.language import detect_language


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I forgot my password", "en"),
        ("忘记密码了", "zh"),
        ("收到ESO_LOCAL_SPAM退信", "zh"),  # mixed: Chinese
        ("ESO_LOCAL_SPAM 怎么办", "zh"),
        ("my mail bounced 退信了", "zh"),
        ("ESO_LOCAL_SPAM", None),  # a code alone says nothing
        ("ALM-000123", None),
        ("name@example.com", None),
        ("12345", None),
        ("👍👍", None),
        ("/affirm", None),  # button payloads
        ("", None),
        ("ok", "en"),
        ("SMS", None),
        ("Привет", None),  # neither language: keep the conversation's
    ],
)
def test_detect_language(text: str, expected: Optional[str]) -> None:
    assert detect_language(text) == expected
