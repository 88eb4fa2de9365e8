"""core/menus.py: the help menu and the out-of-scope answer list the problems as text and buttons."""

from __future__ import annotations

import pytest

from core.knowledge import knowledge
from core.menus import help_messages, out_of_scope_messages, problem_buttons, problem_list


def test_one_button_per_problem_in_the_guides_order_with_its_menu_label() -> None:
    kb = knowledge()
    buttons = problem_buttons(kb, "en")
    assert [b["payload"] for b in buttons] == [
        "/forgot_password",
        "/verification_failed",
        "/eso_local_spam",
        "/marked_as_spam",
        "/unusual_login_alerts",
    ]
    assert [b["title"] for b in buttons] == [kb.label(p.intent, "en") for p in kb.problems]
    assert buttons[0]["title"] == "I forgot my password"


def test_the_problem_list_is_numbered_titles() -> None:
    kb = knowledge()
    lines = problem_list(kb, "zh").splitlines()
    assert lines == [f"{n}. {p.title.get('zh')}" for n, p in enumerate(kb.problems, start=1)]
    assert lines[0] == "1. 忘记密码"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_help_is_intro_list_and_outro_in_one_message(lang: str) -> None:
    kb = knowledge()
    (message,) = help_messages(kb, lang)
    intro, *middle, blank, outro = message["text"].split("\n")
    assert intro == kb.phrases["help_intro"].get(lang)
    assert "\n".join(middle) == problem_list(kb, lang)
    assert blank == "" and outro == kb.phrases["help_outro"].get(lang)
    assert message["buttons"] == problem_buttons(kb, lang)


def test_out_of_scope_declines_then_lists_the_problems() -> None:
    kb = knowledge()
    (message,) = out_of_scope_messages(kb, "en")
    first, rest = message["text"].split("\n", 1)
    assert first.startswith("Sorry, that's outside what I can help with.")
    assert rest == problem_list(kb, "en")
    assert message["buttons"] == problem_buttons(kb, "en")
