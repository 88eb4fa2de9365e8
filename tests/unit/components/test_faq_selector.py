"""components/faq_selector.py: the FAQ key (`faq/<key>`) by logistic regression, written as Rasa's
ResponseSelector writes it; trained on a handful of examples (whitespace tokens, word counts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.faq_selector import FaqSelector

NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - spam spam spam hello
- intent: faq/spam_folder
  examples: |
    - why is my mail in the spam folder
    - mail lands in junk
    - spam folder
- intent: faq/quota
  examples: |
    - my mailbox is full
    - storage quota exceeded
    - how much space do I have
- intent: faq/phishing_drill
  examples: |
    - is this a phishing drill
    - phishing test mail
- intent: chitchat/weather
  examples: |
    - how is the weather
    - is it raining
- intent: chitchat/joke
  examples: |
    - tell me a joke
    - make me laugh
"""


class Pipeline:
    """Whitespace tokens and word counts trained on `nlu`; then the selectors under test."""

    def __init__(self, storage_dir: Path, nlu: str = NLU) -> None:
        self.storage = LocalModelStorage(storage_dir)
        self.context = ExecutionContext(GraphSchema({}), "test")
        self.data = RasaYAMLReader().reads(nlu)
        self.tokenizer = self.create(WhitespaceTokenizer, {}, "tokenizer")
        self.featurizer = self.create(CountVectorsFeaturizer, {}, "featurizer")
        self.tokenizer.process_training_data(self.data)
        self.featurizer.train(self.data)
        self.featurizer.process_training_data(self.data)

    def create(self, cls: Any, config: Dict[str, Any], name: str) -> Any:
        return cls.create({**cls.get_default_config(), **config}, self.storage, Resource(name), self.context)

    def trained(self, name: str, **config: Any) -> FaqSelector:
        selector = self.create(FaqSelector, config, name)
        selector.train(self.data)
        return selector

    def featurized(self, *texts: str) -> List[Message]:
        messages = [Message({TEXT: text}) for text in texts]
        self.featurizer.process(self.tokenizer.process(messages))
        return messages


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return Pipeline(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def selector(pipeline: Pipeline) -> FaqSelector:
    return pipeline.trained("faq")


def prediction(message: Message, retrieval_intent: str = "faq") -> Dict[str, Any]:
    return message.get("response_selector")[retrieval_intent]


def test_defaults_select_among_the_faq_keys():
    config = FaqSelector.get_default_config()
    assert config["retrieval_intent"] == "faq" and config["max_iter"] == 300


def test_only_the_retrieval_intents_keys_are_learnt(selector):
    assert sorted(selector.clf.classes_) == ["faq/phishing_drill", "faq/quota", "faq/spam_folder"]


def test_the_best_key_is_written_as_rasas_response_selector_writes_it(pipeline, selector):
    (message,) = selector.process(pipeline.featurized("my mailbox is full"))
    selected = message.get("response_selector")
    assert selected["all_retrieval_intents"] == ["faq"]
    response = selected["faq"]["response"]
    assert response["intent_response_key"] == "faq/quota"
    assert response["utter_action"] == "utter_faq/quota" and response["responses"] == []
    ranking = selected["faq"]["ranking"]
    assert [r["intent_response_key"] for r in ranking][0] == "faq/quota" and len(ranking) == 3
    assert response["confidence"] == ranking[0]["confidence"]
    assert [r["confidence"] for r in ranking] == sorted((r["confidence"] for r in ranking), reverse=True)
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)
    assert "response_selector" in message.as_dict(only_output_properties=True)


@pytest.mark.parametrize(
    "text, key", [("spam folder", "faq/spam_folder"), ("phishing drill", "faq/phishing_drill"), ("quota", "faq/quota")]
)
def test_each_key_is_found(pipeline, selector, text, key):
    (message,) = selector.process(pipeline.featurized(text))
    assert prediction(message)["response"]["intent_response_key"] == key


def test_a_featureless_message_gets_no_selection_and_the_rest_of_the_batch_does(pipeline, selector):
    blank = Message({TEXT: ""})
    (text,) = pipeline.featurized("phishing test")
    selector.process([blank, text])
    assert blank.get("response_selector") is None
    assert prediction(text)["response"]["intent_response_key"] == "faq/phishing_drill"


def test_without_examples_of_the_retrieval_intent_training_is_skipped_and_nothing_is_selected(pipeline):
    untrained = pipeline.create(FaqSelector, {"retrieval_intent": "support"}, "untrained")
    assert untrained.train(pipeline.data) == Resource("untrained")  # no support/<key> examples: nothing to fit
    untrained.train(TrainingData())
    (message,) = untrained.process(pipeline.featurized("spam folder"))
    assert message.get("response_selector") is None


def test_another_retrieval_intent_is_added_next_to_the_first(pipeline, selector):
    chitchat = pipeline.trained("chitchat", retrieval_intent="chitchat")
    assert sorted(chitchat.clf.classes_) == ["chitchat/joke", "chitchat/weather"]
    (message,) = pipeline.featurized("tell me a joke")
    selector.process([message])
    chitchat.process([message])
    selected = message.get("response_selector")
    assert selected["faq"]["response"]["intent_response_key"].startswith("faq/")
    assert prediction(message, "chitchat")["response"]["intent_response_key"] == "chitchat/joke"
    assert selected["all_retrieval_intents"] == ["chitchat"]  # as Rasa's ResponseSelector: the last one's


def test_the_ranking_keeps_the_ten_best_keys(tmp_path):
    keys = [f"k{n:02d}" for n in range(12)]
    nlu = 'version: "3.1"\nnlu:\n' + "".join(
        f"- intent: faq/{key}\n  examples: |\n    - word{key} one\n    - word{key} two\n" for key in keys
    )
    many = Pipeline(tmp_path, nlu)
    (message,) = many.trained("many").process(many.featurized("wordk07 one"))
    ranking = prediction(message)["ranking"]
    assert len(ranking) == 10 and ranking[0]["intent_response_key"] == "faq/k07"
