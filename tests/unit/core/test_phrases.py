"""core/phrases.py: the bot's own sentences, localised and filled in."""

from __future__ import annotations

import pytest

from core import phrases
from core.knowledge import Knowledge, Text, knowledge


def test_a_phrase_in_each_language_with_its_values_filled_in() -> None:
    assert phrases.say("step", "en", number=2, total=6, text="Open the page") == "Step 2 of 6: Open the page"
    assert phrases.say("step", "zh", number=2, total=6, text="打开页面") == "第 2 步（共 6 步）：打开页面"


def test_without_a_language_or_for_an_unknown_one_the_default_language_is_used() -> None:
    assert phrases.say("stopped") == "OK, I've stopped that guide. What else can I help you with?"
    assert phrases.say("stopped", "fr") == phrases.say("stopped", "en")


def test_a_missing_translation_falls_back_to_the_default_language(monkeypatch: pytest.MonkeyPatch) -> None:
    kb = knowledge()
    only_english = Knowledge(
        default_language=kb.default_language,
        languages=kb.languages,
        severities=kb.severities,
        problems=kb.problems,
        faqs=kb.faqs,
        intent_labels=kb.intent_labels,
        phrases={"hello": Text({"en": "Hello {name}"})},
    )
    monkeypatch.setattr(phrases, "knowledge", lambda: only_english)
    assert phrases.say("hello", "zh", name="Li") == "Hello Li"


def test_an_unknown_phrase_is_an_error_not_an_empty_message() -> None:
    with pytest.raises(KeyError, match="no_such_phrase"):
        phrases.say("no_such_phrase", "en")


def test_a_missing_value_is_an_error() -> None:
    with pytest.raises(KeyError, match="total"):
        phrases.say("step", "en", number=1, text="x")


def test_a_phrase_for_an_unknown_language_comes_in_every_language_one_line_each() -> None:
    from core.phrases import say_in_language_or_all

    english, chinese = phrases.say("part_unavailable", "en"), phrases.say("part_unavailable", "zh")
    assert english != chinese
    assert say_in_language_or_all("part_unavailable", "zh") == chinese
    assert say_in_language_or_all("part_unavailable", None) == f"{english}\n{chinese}"
    assert say_in_language_or_all("part_unavailable", "fr") == f"{english}\n{chinese}"
