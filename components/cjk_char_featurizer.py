"""Character n-grams of the Chinese text, across jieba's word boundaries.

The other featurizers see Chinese through jieba's words: character n-grams stay inside a word,
so a segmentation that differs from the training data's (an unknown word, a typo such as
密玛 for 密码, a run without spaces jieba cuts elsewhere) leaves little in common. Counting the
characters and character pairs of every run of Chinese text, whatever the segmentation, is the
usual remedy for Chinese text classification: 忘记密码 and 密码忘了 share 密, 码, 密码, 忘.

Sentence features only (what the linear classifiers read); a message without Chinese gets
an all-zero row, so English is unaffected.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Text

import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

VOCABULARY_FILE = "cjk_char_vocabulary.json"
# CJK ideographs, the same ranges as core.language.has_cjk.
_CJK_RUN = re.compile("[\u3400-\u9fff\uf900-\ufaff]+")


def cjk_ngrams(text: str, sizes: List[int]) -> List[str]:
    """Every character n-gram (of the given sizes) inside each run of Chinese characters."""
    grams: List[str] = []
    for run in _CJK_RUN.findall(text or ""):
        for size in sizes:
            grams += [run[i : i + size] for i in range(len(run) - size + 1)]
    return grams


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class CjkCharFeaturizer(SparseFeaturizer, GraphComponent):
    """Counts of the Chinese character n-grams seen in training (config: `min_ngram`, `max_ngram`)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**SparseFeaturizer.get_default_config(), "min_ngram": 1, "max_ngram": 2}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        vocabulary: Optional[Dict[str, int]] = None,
    ) -> None:
        SparseFeaturizer.__init__(self, execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary: Dict[str, int] = vocabulary or {}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if not 1 <= int(config["min_ngram"]) <= int(config["max_ngram"]):
            raise ValueError("CjkCharFeaturizer needs 1 <= min_ngram <= max_ngram")

    @property
    def sizes(self) -> List[int]:
        return list(range(int(self._config["min_ngram"]), int(self._config["max_ngram"]) + 1))

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "CjkCharFeaturizer":
        return cls({**cls.get_default_config(), **config}, model_storage, resource, execution_context)

    def train(self, training_data: TrainingData) -> Resource:
        """The n-grams of the training examples, in a fixed order, stored in the model."""
        seen = sorted({g for m in training_data.training_examples for g in cjk_ngrams(m.get(TEXT), self.sizes)})
        self.vocabulary = {gram: index for index, gram in enumerate(seen)}
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(json.dumps(seen, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "CjkCharFeaturizer":
        try:
            with model_storage.read_from(resource) as directory:
                seen = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        except ValueError:  # nothing was trained: no features
            seen = []
        vocabulary = {gram: index for index, gram in enumerate(seen)}
        return cls({**cls.get_default_config(), **config}, model_storage, resource, execution_context, vocabulary)

    def _featurize(self, message: Message) -> None:
        if not self.vocabulary or not message.get(TEXT):
            return
        counts: Dict[int, int] = {}
        for gram in cjk_ngrams(message.get(TEXT), self.sizes):
            index = self.vocabulary.get(gram)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        width = len(self.vocabulary)
        sentence = scipy.sparse.coo_matrix(
            (list(counts.values()), ([0] * len(counts), list(counts.keys()))), shape=(1, width)
        )
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        # Sequence features must exist beside sentence features (one row per token): zeros here.
        sequence = scipy.sparse.coo_matrix((max(len(tokens), 1), width))
        self.add_features_to_message(sequence, sentence, TEXT, message)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._featurize(message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._featurize(message)
        return training_data
