"""tools/sync_responses.py: data/responses/ holds the knowledge file's FAQ answers, help menu and
out-of-scope answer per language."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import pytest
import yaml
from rasa.core.nlg.generator import ResponseVariationFilter

from core import phrases
from core.form_questions import eml_options, form_questions
from core.knowledge import Text, knowledge
from core.menus import help_messages, out_of_scope_messages
from tools import sync_responses
from tools.sync_responses import variations

CHOSEN_ZH = [{"type": "slot", "name": "language_choice", "value": "zh"}]
DETECTED_ZH = [
    {"type": "slot", "name": "language_choice", "value": None},
    {"type": "slot", "name": "language", "value": "zh"},
]

ROOT = Path(__file__).resolve().parents[3]


def test_faq_responses_are_the_knowledge_files_answers():
    """utter_faq answers come from data/responses/faq.yml, generated from the knowledge file."""
    responses = yaml.safe_load((ROOT / "data" / "responses" / "faq.yml").read_text(encoding="utf-8"))["responses"]
    chosen, detected = CHOSEN_ZH, DETECTED_ZH
    expected = {
        f"utter_{f.intent}": [
            {"text": f.answer.get("en")},
            {"condition": chosen, "text": f.answer.get("zh")},
            {"condition": detected, "text": f.answer.get("zh")},
        ]
        for f in knowledge().faqs
        if f.intent
    }
    assert responses == expected
    assert all(variants[1]["text"] != variants[0]["text"] for variants in responses.values())


def test_the_help_menu_and_the_out_of_scope_answer_are_the_knowledge_files_per_language() -> None:
    """utter_help and utter_out_of_scope: what core/menus.py builds, text and buttons, in each language."""
    responses = yaml.safe_load((ROOT / "data" / "responses" / "menus.yml").read_text(encoding="utf-8"))["responses"]
    kb = knowledge()
    for name, build in [("utter_help", help_messages), ("utter_out_of_scope", out_of_scope_messages)]:
        ((en,), (zh,)) = build(kb, "en"), build(kb, "zh")
        assert responses[name] == [en, {"condition": CHOSEN_ZH, **zh}, {"condition": DETECTED_ZH, **zh}]
        assert [b["payload"] for b in en["buttons"]] == [f"/{p.intent}" for p in kb.problems]
        assert all(p.title.get("zh") in zh["text"] for p in kb.problems)
    # Rasa's own action_default_ask_rephrase utters utter_ask_rephrase: the knowledge file's phrase
    en, zh = phrases.say("ask_rephrase", "en"), phrases.say("ask_rephrase", "zh")
    assert responses["utter_ask_rephrase"] == [
        {"text": en},
        {"condition": CHOSEN_ZH, "text": zh},
        {"condition": DETECTED_ZH, "text": zh},
    ]


def test_variations_default_language_first_then_chosen_and_detected_per_language() -> None:
    text = Text({"en": "Ten minutes.", "zh": "十分钟。"})
    assert variations(text, "en", ["en", "zh"]) == [
        {"text": "Ten minutes."},
        {"condition": [{"type": "slot", "name": "language_choice", "value": "zh"}], "text": "十分钟。"},
        {
            "condition": [
                {"type": "slot", "name": "language_choice", "value": None},
                {"type": "slot", "name": "language", "value": "zh"},
            ],
            "text": "十分钟。",
        },
    ]


def test_a_language_without_a_translation_gets_no_variation() -> None:
    assert variations(Text({"en": "Only English."}), "en", ["en", "zh"]) == [{"text": "Only English."}]


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The generated files in a temporary project folder; the FAQ file's path is returned."""
    monkeypatch.setattr(sync_responses, "PROJECT_ROOT", tmp_path)
    return tmp_path / "data" / "responses" / "faq.yml"


def run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["sync_responses", *args])
    return sync_responses.main()


def test_check_fails_on_a_stale_or_missing_file_and_writing_fixes_it(
    target: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    menus, prompts = target.with_name("menus.yml"), target.with_name("prompts.yml")
    assert run(monkeypatch, "--check") == 1  # missing
    assert not target.exists() and not menus.exists() and not prompts.exists()
    assert run(monkeypatch) == 0
    wanted = {path.name: text for path, text in sync_responses.render().items()}
    assert set(wanted) == {"faq.yml", "menus.yml", "prompts.yml"}
    for path in (target, menus, prompts):
        assert path.read_text(encoding="utf-8") == wanted[path.name]
    assert run(monkeypatch, "--check") == 0
    for path, needle in [(target, "utter_faq/"), (menus, "utter_help"), (prompts, "utter_ask_contact_email")]:
        original = path.read_text(encoding="utf-8")
        path.write_text(original.replace(needle, "utter_x_", 1), encoding="utf-8")
        capsys.readouterr()
        assert run(monkeypatch, "--check") == 1
        relative = f"data/responses/{path.name}"
        assert f"{relative} is out of date with the knowledge file: run `make responses`" in capsys.readouterr().err
        path.write_text(original, encoding="utf-8")
    assert run(monkeypatch, "--check") == 0


def test_the_committed_files_are_up_to_date() -> None:
    for path, text in sync_responses.render().items():
        assert path.read_text(encoding="utf-8") == text, path


# The slot states a conversation can be in: (language_choice, language) and the kind of chat.
LANGUAGE_STATES = [(None, "en", "en"), (None, "zh", "zh"), ("en", "zh", "en"), ("zh", "en", "zh"), ("en", "en", "en")]


@pytest.mark.parametrize("kind", ["direct", "group_dm", "group"])
@pytest.mark.parametrize("choice, detected, lang", LANGUAGE_STATES)
def test_rasa_picks_exactly_one_form_question_for_every_language_and_kind_of_chat(
    kind: str, choice: Optional[str], detected: str, lang: str
) -> None:
    """Rasa's own filter over data/responses/prompts.yml: one variation, in the conversation's language;
    in a group the group reads only the notice, the question going to the sender alone where it can."""
    responses = yaml.safe_load((ROOT / "data" / "responses" / "prompts.yml").read_text(encoding="utf-8"))["responses"]
    assert (
        set(responses)
        == set(form_questions("en"))
        == {
            "utter_ask_contact_email",
            "utter_ask_ticket_description",
            "utter_ask_eml_delivery",
        }
    )
    slots = {"language_choice": choice, "language": detected, "chat": kind}
    for name in responses:
        (picked,) = ResponseVariationFilter(responses).responses_for_utter_action(name, "slack", slots)
        question = form_questions(lang)[name]
        shown = {key: value for key, value in picked.items() if key != "condition"}
        if kind == "direct":
            assert shown == question
        elif kind == "group_dm":
            assert shown == {"text": phrases.say("private_in_dm", lang), "custom": {"direct_message": question}}
        else:
            assert shown == {"text": phrases.say("private_write_directly", lang)}


def test_the_eml_question_offers_the_knowledge_files_answers_as_buttons() -> None:
    for lang in ("en", "zh"):
        question = form_questions(lang)["utter_ask_eml_delivery"]
        assert (
            [b["title"] for b in question["buttons"]]
            == eml_options(lang)
            == [b["payload"] for b in question["buttons"]]
        )
        assert len(set(eml_options(lang))) == 3
