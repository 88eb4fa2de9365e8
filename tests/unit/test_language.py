"""Language detection per message, explicit switching, and the guide rendered in Chinese."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.guide_actions import ActionStartGuide
from actions.language import detect_language
from actions.language_actions import ActionSwitchLanguage, ActionValidateSlotMappings
from conftest import make_tracker, run_action, texts

DOMAIN = {"slots": {"language": {"type": "text", "mappings": [{"type": "custom"}]},
                    "language_choice": {"type": "text", "mappings": [{"type": "custom"}]}}}


@pytest.mark.parametrize("text, expected", [
    ("I forgot my password", "en"),
    ("忘记密码了", "zh"),
    ("收到ESO_LOCAL_SPAM退信", "zh"),          # mixed: Chinese
    ("ESO_LOCAL_SPAM 怎么办", "zh"),
    ("my mail bounced 退信了", "zh"),
    ("ESO_LOCAL_SPAM", None),                  # a code alone says nothing
    ("ALM-000123", None),
    ("name@example.com", None),
    ("12345", None),
    ("👍👍", None),
    ("/affirm", None),                         # button payloads
    ("", None),
    ("ok", "en"),
    ("SMS", None),
    ("Привет", None),                          # neither language: keep the conversation's
])
def test_detect_language(text: str, expected: Optional[str]) -> None:
    assert detect_language(text) == expected


def extract(text: str, slots: Dict[str, Any], intent: str = "forgot_password",
            entities: Optional[list] = None) -> Dict[str, Any]:
    tracker = make_tracker(intent, slots=slots, text=text, entities=entities)
    action = ActionValidateSlotMappings()
    return asyncio.run(action.extract_language(CollectingDispatcher(), tracker, DOMAIN))


def test_the_conversation_follows_the_language_of_each_message() -> None:
    assert extract("忘记密码了", {"language": "en"}) == {"language": "zh"}
    assert extract("forgot my password", {"language": "zh"}) == {"language": "en"}
    assert extract("ESO_LOCAL_SPAM", {"language": "zh"}) == {}      # neutral: stays Chinese
    assert extract("忘记密码了", {"language": "zh"}) == {}             # no change, no event


def test_an_explicit_choice_wins_until_the_next_choice() -> None:
    chosen = extract("Chinese please", {"language": "en"}, intent="switch_language",
                     entities=[{"entity": "language", "value": "zh"}])
    assert chosen == {"language": "zh", "language_choice": "zh"}
    # Typing English afterwards keeps the chosen Chinese.
    assert extract("my password is not working", {"language": "zh", "language_choice": "zh"}) == {}
    back = extract("说英文", {"language": "zh", "language_choice": "zh"}, intent="switch_language",
                   entities=[{"entity": "language", "value": "en"}])
    assert back == {"language": "en", "language_choice": "en"}


def test_switch_without_a_target_language_toggles() -> None:
    assert extract("换个语言", {"language": "en"}, intent="switch_language")["language"] == "zh"
    assert extract("other language pls", {"language": "zh"}, intent="switch_language")["language"] == "en"


def test_switch_confirms_in_the_new_language_and_repeats_the_pending_step() -> None:
    slots = {"language": "zh", "problem": "forgot_password", "guide_stage": "steps", "step_index": 1.0}
    messages, _ = run_action(ActionSwitchLanguage(), make_tracker("switch_language", slots=slots, text="说中文"))
    said = texts(messages)
    assert "好的，接下来我会用中文回答您" in said
    assert "回到 **忘记密码**" in said and "第 2 步（共 6 步）：点击登录表单下方的 **忘记密码**" in said


def test_a_guide_in_chinese_from_the_knowledge_file() -> None:
    messages, _ = run_action(ActionStartGuide(), make_tracker("forgot_password", slots={"language": "zh"},
                                                              text="忘记密码了"))
    said = texts(messages)
    assert "忘记密码" in said and "Forgot" not in said
    buttons = [b["title"] for m in messages for b in m.get("buttons") or []]
    assert buttons and all(any("\u4e00" <= ch <= "\u9fff" for ch in title) for title in buttons)
