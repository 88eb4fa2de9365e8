"""The NLU data: enough examples per intent, and a held-out set that shares nothing with training."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data

ROOT = Path(__file__).resolve().parents[2]
MIN_TRAINING = 20
MIN_HELDOUT = 15
MIN_HELDOUT_OOS = 60


def normalise(text: str) -> str:
    """Lower case, no punctuation, single spaces: near-duplicates compare equal."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def label(message) -> str:
    return message.get("intent_response_key") or message.get("intent")


@pytest.fixture(scope="module")
def training():
    return load_data(str(ROOT / "data" / "nlu"))


@pytest.fixture(scope="module")
def heldout():
    return load_data(str(ROOT / "tests" / "nlu" / "heldout.yml"))


@pytest.fixture(scope="module")
def intents():
    """Every intent the domain names, with each FAQ key as its own intent."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    faq_keys = yaml.safe_load((ROOT / "data" / "responses" / "faq.yml").read_text(encoding="utf-8"))["responses"]
    names = [i for i in domain["intents"] if i != "faq"]
    return names + [key[len("utter_"):] for key in faq_keys]


def test_training_examples_per_intent(training, intents):
    counts = collections.Counter(label(m) for m in training.intent_examples)
    too_few = {i: counts[i] for i in intents if counts[i] < MIN_TRAINING}
    assert not too_few, f"intents with fewer than {MIN_TRAINING} training examples: {too_few}"


def test_heldout_examples_per_intent(heldout, intents):
    counts = collections.Counter(label(m) for m in heldout.intent_examples)
    too_few = {i: counts[i] for i in intents if i != "out_of_scope" and counts[i] < MIN_HELDOUT}
    assert not too_few, f"intents with fewer than {MIN_HELDOUT} held-out examples: {too_few}"
    assert counts["out_of_scope"] >= MIN_HELDOUT_OOS
    assert set(counts) <= set(intents), f"held-out intents unknown to the domain: {set(counts) - set(intents)}"


def test_heldout_shares_no_utterance_with_training(training, heldout):
    seen = {normalise(m.get("text")): label(m) for m in training.intent_examples}
    shared = [(m.get("text"), label(m), seen[normalise(m.get("text"))])
              for m in heldout.intent_examples if normalise(m.get("text")) in seen]
    assert not shared, f"held-out utterances also in the training data: {shared}"


def test_no_utterance_in_two_intents(training):
    owners = collections.defaultdict(set)
    for message in training.intent_examples:
        owners[normalise(message.get("text"))].add(label(message))
    clashes = {text: sorted(o) for text, o in owners.items() if len(o) > 1}
    assert not clashes, f"the same utterance in several intents: {clashes}"


def test_faq_questions_are_training_examples(training):
    """The "did you mean" buttons send FAQ questions as text: the NLU must know them."""
    from actions.knowledge import knowledge

    examples = {normalise(m.get("text")): label(m) for m in training.intent_examples}
    for faq in knowledge().faqs:
        if faq.intent:
            assert examples.get(normalise(faq.question.get("en"))) == faq.intent, faq.key
