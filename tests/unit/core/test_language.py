"""Language detection per message, explicit switching, and the guide rendered in Chinese."""

from __future__ import annotations

from typing import Any, Dict, Optional

import pytest

from actions.guide_actions import ActionStartGuide
from actions.language_actions import ActionSwitchLanguage
from actions.state import language
from core.language import detect_language
from tests.trackers import make_tracker, run_action, texts


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


def test_the_pipeline_tags_each_message_with_its_language() -> None:
    from rasa.shared.nlu.training_data.message import Message

    from components.language_detector import LanguageDetector

    messages = [Message(data={"text": text}) for text in ("收到ESO_LOCAL_SPAM退信", "forgot my pw", "ALM-000123")]
    LanguageDetector().process(messages)
    tags = [[e["value"] for e in m.get("entities") or [] if e["entity"] == "message_language"] for m in messages]
    assert tags == [["zh"], ["en"], []]


def test_a_chosen_language_wins_over_the_detected_one() -> None:
    assert language(make_tracker("greet", slots={"language": "zh"})) == "zh"
    assert language(make_tracker("greet", slots={"language": "zh", "language_choice": "en"})) == "en"
    assert language(make_tracker("greet", slots={"language": "fr"})) == "en"  # unknown: the default


def switch(text: str, slots: Dict[str, Any], target: Optional[str] = None):
    entities = [{"entity": "language", "value": target}] if target else []
    return run_action(
        ActionSwitchLanguage(), make_tracker("switch_language", slots=slots, text=text, entities=entities)
    )


def test_switching_sets_the_choice_and_answers_in_it() -> None:
    messages, events = switch("Chinese please", {"language": "en"}, target="zh")
    assert texts(messages) == "好的，接下来我会用中文回答您。"
    assert events == [{"event": "slot", "timestamp": None, "name": "language_choice", "value": "zh"}]
    messages, events = switch("说英文", {"language": "zh", "language_choice": "zh"}, target="en")
    assert texts(messages) == "OK, I'll answer in English from now on." and events[0]["value"] == "en"


def test_switch_without_a_target_language_toggles() -> None:
    assert switch("换个语言", {"language": "en"})[1][0]["value"] == "zh"
    assert switch("other language pls", {"language": "zh", "language_choice": "zh"})[1][0]["value"] == "en"


def test_switch_confirms_in_the_new_language_and_repeats_the_pending_step() -> None:
    slots = {"language": "en", "problem": "forgot_password", "guide_stage": "steps", "step_index": 1.0}
    messages, _ = switch("说中文", slots, target="zh")
    said = texts(messages)
    assert "好的，接下来我会用中文回答您" in said
    assert "回到 **忘记密码**" in said and "第 2 步（共 6 步）：点击登录表单下方的 **忘记密码**" in said


def test_a_guide_in_chinese_from_the_knowledge_file() -> None:
    messages, _ = run_action(
        ActionStartGuide(), make_tracker("forgot_password", slots={"language": "zh"}, text="忘记密码了")
    )
    said = texts(messages)
    assert "忘记密码" in said and "Forgot" not in said
    buttons = [b["title"] for m in messages for b in m.get("buttons") or []]
    assert buttons and all(any("\u4e00" <= ch <= "\u9fff" for ch in title) for title in buttons)
