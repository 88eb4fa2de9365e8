"""components/cjk_char_featurizer.py: counts of Chinese character n-grams across word boundaries."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.cjk_char_featurizer import CjkCharFeaturizer, cjk_ngrams


def test_ngrams_stay_inside_each_run_of_chinese() -> None:
    assert cjk_ngrams("密码忘了 ok 人工", [1, 2]) == [
        "密",
        "码",
        "忘",
        "了",
        "密码",
        "码忘",
        "忘了",
        "人",
        "工",
        "人工",
    ]
    assert cjk_ngrams("ESO_LOCAL_SPAM bounce", [1, 2]) == []


@pytest.fixture
def featurizer(tmp_path: Path) -> Tuple[CjkCharFeaturizer, LocalModelStorage, ExecutionContext]:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    featurizer = CjkCharFeaturizer.create({}, storage, Resource("cjk"), context)
    featurizer.train(TrainingData([Message({TEXT: "忘记密码"}), Message({TEXT: "转人工"})]))
    return featurizer, storage, context


def sentence_row(featurizer: CjkCharFeaturizer, text: str) -> List[int]:
    message = Message({TEXT: text})
    featurizer.process([message])
    _sequence, sentence = message.get_sparse_features(TEXT)
    return [] if sentence is None else np.asarray(sentence.features.todense())[0].tolist()


def test_a_typo_still_shares_characters_with_the_training_words(featurizer) -> None:
    found = dict(
        zip(sorted(featurizer[0].vocabulary, key=featurizer[0].vocabulary.get), sentence_row(featurizer[0], "密玛忘了"))
    )
    assert found["密"] == 1 and found["忘"] == 1 and found["密码"] == 0  # 玛, 密玛 were never seen
    assert sum(found.values()) == 2


def test_english_gets_a_zero_row_and_the_vocabulary_is_kept_in_the_model(featurizer) -> None:
    first, storage, context = featurizer
    assert sum(sentence_row(first, "talk to a human")) == 0
    loaded = CjkCharFeaturizer.load({}, storage, Resource("cjk"), context)
    assert loaded.vocabulary == first.vocabulary
    assert sentence_row(loaded, "人工") == sentence_row(first, "人工") and sum(sentence_row(loaded, "人工")) == 3
