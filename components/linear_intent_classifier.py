"""Rasa's logistic-regression intent classifier, safe for messages without features.

Rasa 3.6's LogisticRegressionClassifier raises on a message with no features at
all (an empty or blank message: "Found array with 0 feature(s)"), which loses
the message. Such messages get no intent here, so the FallbackClassifier turns
them into `nlu_fallback` and the bot asks for words (phrase `no_words`).
"""

from __future__ import annotations

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message


def has_features(message: Message) -> bool:
    """True when a featurizer produced anything for the message's text."""
    sparse = message.get_sparse_features(attribute=TEXT)[1]
    dense = message.get_dense_features(attribute=TEXT)[1]
    return any(f is not None and f.features.shape[-1] > 0 and f.features.shape[0] > 0 for f in (sparse, dense))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(LogisticRegressionClassifier):
    """LogisticRegressionClassifier that leaves featureless messages without an intent."""

    def process(self, messages: List[Message]) -> List[Message]:
        featured = []
        for message in messages:
            if has_features(message):
                featured.append(message)
            else:
                message.set("intent", {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set("intent_ranking", [], add_to_output=True)
        if featured:
            super().process(featured)
        return messages
