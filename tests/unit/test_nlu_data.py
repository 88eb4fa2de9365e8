"""The project's own data passes the trainers' data check; FAQ questions are known to the NLU."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from core.knowledge import knowledge
from trainer.check import run_checks
from trainer.project import normalise

ROOT = Path(__file__).resolve().parents[2]


def label(message) -> str:
    return message.get("intent_response_key") or message.get("intent")


def test_the_data_check_finds_nothing_in_the_project():
    findings = run_checks(ROOT)
    assert not findings, "\n".join(str(f) for f in findings)


def test_rasa_reads_the_same_examples_as_the_data_check():
    """The check's own reader must not miss examples that Rasa trains on (or invent some)."""
    from trainer.project import read_project

    rasa_examples = sorted(
        (label(m), normalise(m.get("text"))) for m in load_data(str(ROOT / "data" / "nlu")).intent_examples
    )
    ours = sorted((e.intent, e.key) for e in read_project(ROOT).training)
    assert ours == rasa_examples


@pytest.mark.parametrize("lang", knowledge().languages)
def test_faq_questions_are_training_examples(lang):
    """The "did you mean" buttons send FAQ questions as text: the NLU must know them in each language."""
    examples = {normalise(m.get("text")): label(m) for m in load_data(str(ROOT / "data" / "nlu")).intent_examples}
    for faq in knowledge().faqs:
        if faq.intent:
            assert examples.get(normalise(faq.question.get(lang))) == faq.intent, (faq.key, lang)
