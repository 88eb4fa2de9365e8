"""actions/language_actions.py: switching the conversation's language on request."""

from __future__ import annotations

from typing import Any, Dict, Optional

from actions.language_actions import ActionSwitchLanguage
from tests.trackers import make_tracker, run_action, texts


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
