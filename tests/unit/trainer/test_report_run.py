"""trainer/report_run.py: held-out languages, the epochs override and the cross-validation folds."""

from __future__ import annotations

from pathlib import Path

import yaml

from trainer.report_run import config_with_epochs, heldout_language


def test_heldout_language_from_the_file_name():
    assert heldout_language(Path("tests/nlu/heldout.yml")) == "en"
    assert heldout_language(Path("tests/nlu/heldout_zh.yml")) == "zh"


def test_epochs_override_writes_a_copy(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "language": "en",
                "pipeline": [
                    {"name": "SpacyNLP", "model": "x"},
                    {"name": "DIETClassifier", "epochs": 100},
                    {"name": "ResponseSelector", "epochs": 100, "retrieval_intent": "faq"},
                    {"name": "FallbackClassifier"},
                ],
                "policies": [{"name": "TEDPolicy"}, {"name": "RulePolicy"}],
            }
        ),
        encoding="utf-8",
    )
    before = config.read_text(encoding="utf-8")
    copy = config_with_epochs(config, 3, tmp_path / "..")
    settings = yaml.safe_load(copy.read_text(encoding="utf-8"))
    assert [c.get("epochs") for c in settings["pipeline"]] == [None, 3, 3, None]
    assert [c.get("epochs") for c in settings["policies"]] == [3, None]
    assert settings["pipeline"][2]["retrieval_intent"] == "faq"
    assert config.read_text(encoding="utf-8") == before and copy != config


def test_folds_are_seeded_stratified_and_test_every_utterance_once():
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from trainer.report_run import drop_rare_labels, make_folds

    examples = [
        Message(
            data={
                "text": f"{label} {i}",
                "intent": label.split("/")[0],
                **({"intent_response_key": label} if "/" in label else {}),
            }
        )
        for label, count in (("greet", 6), ("faq/a", 4), ("faq/b", 4), ("rare", 1))
        for i in range(count)
    ]
    data, dropped = drop_rare_labels(TrainingData(training_examples=examples), 2)
    assert dropped == ["rare"]
    folds = list(make_folds(data, 2, seed=7))
    tested = [m.get("text") for _, test in folds for m in test.intent_examples]
    assert sorted(tested) == sorted(m.get("text") for m in data.intent_examples)
    for train, test in folds:
        assert [m.get_full_intent() for m in test.intent_examples].count("faq/a") == 2
        assert not {m.get("text") for m in train.intent_examples} & {m.get("text") for m in test.intent_examples}
    again = [[m.get("text") for m in test.intent_examples] for _, test in make_folds(data, 2, seed=7)]
    assert again == [[m.get("text") for m in test.intent_examples] for _, test in folds]
