"""tools/sync_responses.py: data/responses/ holds the knowledge file's FAQ answers, help menu and
out-of-scope answer per language."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

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
    menus = target.with_name("menus.yml")
    assert run(monkeypatch, "--check") == 1  # missing
    assert not target.exists() and not menus.exists()
    assert run(monkeypatch) == 0
    wanted = {path.name: text for path, text in sync_responses.render().items()}
    assert target.read_text(encoding="utf-8") == wanted["faq.yml"]
    assert menus.read_text(encoding="utf-8") == wanted["menus.yml"]
    assert run(monkeypatch, "--check") == 0
    for path, needle in [(target, "utter_faq/"), (menus, "utter_help")]:
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
