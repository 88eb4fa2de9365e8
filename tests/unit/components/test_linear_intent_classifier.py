"""components/linear_intent_classifier.py: featureless messages get no intent instead of an error,
trained on a handful of examples (whitespace tokens, word counts); its quicker feature matrix and
prediction give exactly what Rasa's own code gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.message import Message

from components.linear_intent_classifier import (
    LinearIntentClassifier,
    column_major_coefficients,
    has_features,
    sentence_matrix,
)

NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
- intent: forgot_password
  examples: |
    - I forgot my password
    - reset my password please
    - lost password
- intent: spam
  examples: |
    - my mail goes to spam
    - messages land in the junk folder
    - spam filter ate my mail
"""


class Pipeline:
    """Whitespace tokens and word counts, trained on NLU; then the classifier under test."""

    def __init__(self, storage_dir: Path) -> None:
        self.storage = LocalModelStorage(storage_dir)
        self.context = ExecutionContext(GraphSchema({}), "test")
        self.data = RasaYAMLReader().reads(NLU)
        self.tokenizer = self.create(WhitespaceTokenizer, {}, "tokenizer")
        self.featurizer = self.create(CountVectorsFeaturizer, {}, "featurizer")
        self.tokenizer.process_training_data(self.data)
        self.featurizer.train(self.data)
        self.featurizer.process_training_data(self.data)

    def create(self, cls: Any, config: Dict[str, Any], name: str) -> Any:
        return cls.create({**cls.get_default_config(), **config}, self.storage, Resource(name), self.context)

    def featurized(self, *texts: str) -> List[Message]:
        messages = [Message({TEXT: text}) for text in texts]
        self.featurizer.process(self.tokenizer.process(messages))
        return messages


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return Pipeline(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def classifier(pipeline: Pipeline) -> LinearIntentClassifier:
    classifier = pipeline.create(LinearIntentClassifier, {"max_iter": 300}, "classifier")
    classifier.train(pipeline.data)
    return classifier


def sparse(rows: int, columns: int, kind: str = FEATURE_TYPE_SENTENCE) -> Features:
    return Features(scipy.sparse.coo_matrix(np.ones((rows, columns))), kind, TEXT, "test")


def test_has_features_needs_a_non_empty_sentence_feature():
    message = Message({TEXT: "hello"})
    assert not has_features(message)
    message.add_features(sparse(3, 5, FEATURE_TYPE_SEQUENCE))  # sequence features alone don't count
    assert not has_features(message)
    empty = Message({TEXT: "hello"})
    empty.features.append(Features(scipy.sparse.coo_matrix((1, 0)), FEATURE_TYPE_SENTENCE, TEXT, "test"))
    assert not has_features(empty)
    message.add_features(sparse(1, 5))
    assert has_features(message)
    dense = Message({TEXT: "hello"})
    dense.add_features(Features(np.ones((1, 4)), FEATURE_TYPE_SENTENCE, TEXT, "test"))
    assert has_features(dense)


def test_featurized_messages_are_classified(pipeline, classifier):
    messages = classifier.process(pipeline.featurized("I forgot my password", "hello there", "junk folder spam"))
    assert [m.get("intent")["name"] for m in messages] == ["forgot_password", "greet", "spam"]
    ranking = messages[0].get("intent_ranking")
    assert [r["name"] for r in ranking][0] == "forgot_password" and len(ranking) == 3
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)
    assert "intent" in messages[0].as_dict(only_output_properties=True)


def test_a_featureless_message_gets_no_intent_and_the_others_are_still_classified(pipeline, classifier):
    blank = Message({TEXT: ""})  # what the spaCy pipeline leaves for an empty or blank message: no features
    first, second = pipeline.featurized("reset my password", "good morning")
    messages = classifier.process([first, blank, second])
    assert messages == [first, blank, second]
    assert blank.get("intent") == {"name": None, "confidence": 0.0} and blank.get("intent_ranking") == []
    assert blank.as_dict(only_output_properties=True)["intent"] == {"name": None, "confidence": 0.0}
    assert (first.get("intent")["name"], second.get("intent")["name"]) == ("forgot_password", "greet")


def test_a_batch_of_featureless_messages_does_not_reach_the_model(classifier):
    messages = [Message({TEXT: ""}), Message({TEXT: "   "})]
    classifier.process(messages)
    assert [m.get("intent")["name"] for m in messages] == [None, None]


def test_the_trained_classifier_is_saved_and_loaded_as_the_same_class(pipeline, classifier):
    loaded = LinearIntentClassifier.load(
        {**LinearIntentClassifier.get_default_config(), "max_iter": 300},
        pipeline.storage,
        Resource("classifier"),
        pipeline.context,
    )
    assert type(loaded) is LinearIntentClassifier
    blank, text = Message({TEXT: ""}), pipeline.featurized("lost password")[0]
    loaded.process([blank, text])
    assert blank.get("intent")["name"] is None and text.get("intent")["name"] == "forgot_password"


def with_more_features(message: Message, seed: int) -> Message:
    """A featurized message plus the kinds of features other featurizers add: sequence features
    (ignored), a CSR and an empty sentence matrix and, last, a dense one."""
    rng = np.random.default_rng(seed)
    tokens = message.get_sparse_features(TEXT)[0].features.shape[0]
    message.add_features(Features(scipy.sparse.coo_matrix(rng.random((tokens, 6))), FEATURE_TYPE_SEQUENCE, TEXT, "seq"))
    row = rng.random((1, 7)) * (rng.random((1, 7)) > 0.5)
    message.add_features(Features(scipy.sparse.csr_matrix(row), FEATURE_TYPE_SENTENCE, TEXT, "csr"))
    message.add_features(Features(scipy.sparse.coo_matrix((1, 0)), FEATURE_TYPE_SENTENCE, TEXT, "empty"))
    message.add_features(Features(rng.random((1, 3)), FEATURE_TYPE_SENTENCE, TEXT, "dense"))
    return message


def same_matrix(a: scipy.sparse.spmatrix, b: scipy.sparse.spmatrix) -> bool:
    a, b = a.tocsr(), b.tocsr()
    return (
        a.shape == b.shape
        and a.dtype == b.dtype
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


@pytest.mark.parametrize("count", [1, 3])
def test_sentence_matrix_is_rasas_create_x_entry_for_entry(pipeline, classifier, count):
    texts = ["I forgot my password", "spam spam filter", "hello there good morning"][:count]
    plain = pipeline.featurized(*texts)
    assert same_matrix(sentence_matrix(plain), classifier._create_X(plain))
    mixed = [with_more_features(m, seed) for seed, m in enumerate(pipeline.featurized(*texts))]
    expected = classifier._create_X(mixed)
    assert expected.shape[1] > plain[0].features[-1].features.shape[1]  # the extra columns count
    assert same_matrix(sentence_matrix(mixed), expected)


def test_sentence_matrix_sums_duplicate_entries_as_scipy_does():
    message = Message({TEXT: "x"})
    duplicates = scipy.sparse.coo_matrix(([1.5, 2.0, 0.25], ([0, 0, 0], [3, 1, 3])), shape=(1, 5))
    message.add_features(Features(duplicates, FEATURE_TYPE_SENTENCE, TEXT, "test"))
    message.add_features(sparse(1, 2))
    built = sentence_matrix([message])
    assert same_matrix(built, LogisticRegressionClassifier._create_X(None, [message]))  # type: ignore[arg-type]
    assert built.toarray().tolist() == [[0.0, 2.0, 0.0, 1.75, 0.0, 1.0, 1.0]]


def test_column_major_coefficients_change_neither_values_nor_probabilities(pipeline, classifier):
    X = sentence_matrix(pipeline.featurized("I forgot my password", "junk folder", "hi"))
    row_major = classifier.clf.coef_.copy()
    before = classifier.clf.predict_proba(X)
    column_major_coefficients(classifier.clf)
    assert classifier.clf.coef_.T.flags.c_contiguous
    assert np.array_equal(classifier.clf.coef_, row_major)
    assert np.array_equal(classifier.clf.predict_proba(X), before)  # bit for bit
    column_major_coefficients(classifier.clf)  # a second call leaves it as it is
    assert np.array_equal(classifier.clf.coef_, row_major)


def test_intents_and_rankings_are_exactly_rasas(pipeline, classifier):
    texts = ("I forgot my password", "junk folder spam", "good morning", "reset password hello")
    rasa = LogisticRegressionClassifier(classifier.config, "rasa", pipeline.storage, Resource("classifier"))
    rasa.clf = classifier.clf
    expected = rasa.process(pipeline.featurized(*texts))
    ours = classifier.process(pipeline.featurized(*texts))
    for mine, theirs in zip(ours, expected):
        assert mine.get("intent") == theirs.get("intent")
        assert mine.get("intent_ranking") == theirs.get("intent_ranking")
