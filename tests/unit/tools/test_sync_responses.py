"""tools/sync_responses.py: data/responses/faq.yml holds the knowledge file's FAQ answers per language."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from core.knowledge import Text, knowledge
from tools import sync_responses
from tools.sync_responses import variations

ROOT = Path(__file__).resolve().parents[3]


def test_faq_responses_are_the_knowledge_files_answers():
    """utter_faq answers come from data/responses/faq.yml, generated from the knowledge file."""
    responses = yaml.safe_load((ROOT / "data" / "responses" / "faq.yml").read_text(encoding="utf-8"))["responses"]
    chosen = [{"type": "slot", "name": "language_choice", "value": "zh"}]
    detected = [
        {"type": "slot", "name": "language_choice", "value": None},
        {"type": "slot", "name": "language", "value": "zh"},
    ]
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
    """The responses file in a temporary project folder."""
    path = tmp_path / "data" / "responses" / "faq.yml"
    monkeypatch.setattr(sync_responses, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(sync_responses, "TARGET", path)
    return path


def run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["sync_responses", *args])
    return sync_responses.main()


def test_check_fails_on_a_stale_or_missing_file_and_writing_fixes_it(
    target: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, "--check") == 1  # missing
    assert not target.exists()
    assert run(monkeypatch) == 0
    assert target.read_text(encoding="utf-8") == sync_responses.render()
    assert run(monkeypatch, "--check") == 0
    target.write_text(target.read_text(encoding="utf-8").replace("utter_faq/", "utter_faq/x_", 1), encoding="utf-8")
    capsys.readouterr()
    assert run(monkeypatch, "--check") == 1
    assert (
        "data/responses/faq.yml is out of date with the knowledge file: run `make responses`" in capsys.readouterr().err
    )


def test_the_committed_file_is_up_to_date() -> None:
    assert (ROOT / "data" / "responses" / "faq.yml").read_text(encoding="utf-8") == sync_responses.render()
