"""components/lexical_normalizer.py: unseen English words become training words (typos, WordNet
synonyms), trained on a handful of examples with the real WordNet files and pyspellchecker's dictionary."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.message import Message

from components.lexical_normalizer import LexicalNormalizer, TypoIndex, deletions
from components.mixed_script_tokenizer import MixedScriptWhitespaceTokenizer
from tools.build_wordnet import build as build_wordnet

NLU = """
version: "3.1"
nlu:
- intent: forgot_password
  examples: |
    - I forgot my password
    - recover my password please
    - i want to go back to my password
    - password password
- intent: request_human
  examples: |
    - can someone help me
    - 转人工
"""


@pytest.fixture(scope="module")
def wordnet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("wordnet")
    build_wordnet(target, Path("/usr/share/wordnet"))
    return target


class Pipeline:
    def __init__(self, storage_dir: Path, config: Dict[str, Any]) -> None:
        self.storage = LocalModelStorage(storage_dir)
        self.context = ExecutionContext(GraphSchema({}), "test")
        self.config = {**LexicalNormalizer.get_default_config(), **config}
        self.tokenizer = MixedScriptWhitespaceTokenizer.create(
            MixedScriptWhitespaceTokenizer.get_default_config(), self.storage, Resource("tokens"), self.context
        )
        data = RasaYAMLReader().reads(NLU)
        self.tokenizer.process_training_data(data)
        self.normalizer = LexicalNormalizer.create(self.config, self.storage, Resource("normalizer"), self.context)
        self.resource = self.normalizer.train(data)

    def lemmas(self, text: str, normalizer: Any = None) -> List[str]:
        messages = self.tokenizer.process([Message({TEXT: text})])
        (normalizer or self.normalizer).process(messages)
        return [t.lemma for t in messages[0].get(TOKENS_NAMES[TEXT])]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, wordnet: Path) -> Pipeline:
    return Pipeline(tmp_path_factory.mktemp("models"), {"wordnet": str(wordnet)})


def test_deletions_leave_out_each_character_once() -> None:
    assert list(deletions("abc")) == ["bc", "ac", "ab"]


@pytest.mark.parametrize(
    "typo, word",
    [
        ("pasword", "password"),  # a letter missing
        ("passwordd", "password"),  # one too many
        ("passwird", "password"),  # one replaced
        ("paswsord", "password"),  # two swapped
        ("recver", "recover"),
        ("pass", None),  # too short to correct
        ("pzzzword", None),  # two edits away
    ],
)
def test_one_edit_typos_find_the_training_word(typo: str, word: Any) -> None:
    index = TypoIndex({"password": 3, "recover": 1, "passwords": 1}, min_length=5)
    assert index.correction(typo) == word


def test_the_most_frequent_training_word_wins() -> None:
    assert TypoIndex({"mail": 1, "main": 5}, min_length=4).correction("maih") == "main"


def test_typos_and_synonyms_become_training_words(pipeline: Pipeline) -> None:
    assert pipeline.lemmas("i forgott my pasword") == ["i", "forgot", "my", "password"]
    assert pipeline.lemmas("regain my password") == ["recover", "my", "password"]  # WordNet: recover.v.01
    assert pipeline.lemmas("can somebody help") == ["can", "someone", "help"]  # WordNet: person.n.01


def test_known_words_digits_and_chinese_stay(pipeline: Pipeline) -> None:
    # "bank" is one edit from "back" but a real word: not a typo, and no synonym of a training word.
    assert pipeline.lemmas("bank password 12345 alm-000042 转人工") == [
        "bank",
        "password",
        "12345",
        "alm-000042",
        "转",
        "人工",
    ]


def test_the_tables_are_stored_in_the_model(pipeline: Pipeline) -> None:
    loaded = LexicalNormalizer.load(pipeline.config, pipeline.storage, pipeline.resource, pipeline.context)
    assert loaded.synonyms == pipeline.normalizer.synonyms and loaded.synonyms["regain"] == "recover"
    assert pipeline.lemmas("regain my pasword", loaded) == ["recover", "my", "password"]


def test_without_wordnet_or_spelling_nothing_is_rewritten(tmp_path: Path) -> None:
    plain = Pipeline(tmp_path, {"wordnet": None, "spelling": False})
    assert plain.normalizer.synonyms == {} and plain.normalizer.known == set()
    assert plain.lemmas("regain my pasword") == ["regain", "my", "pasword"]


def test_an_untrained_model_rewrites_nothing(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    loaded = LexicalNormalizer.load(LexicalNormalizer.get_default_config(), storage, Resource("none"), context)
    assert loaded.normal_form("pasword") is None
