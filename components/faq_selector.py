"""Pick the FAQ answer (`faq/<key>`) with logistic regression instead of a TensorFlow model.

Rasa's ResponseSelector is a second TensorFlow network; for five FAQ keys a linear
model on the same sparse features is as accurate, trains in a second and keeps
TensorFlow models out of the server (memory, start-up time). It writes the same
`response_selector` entry as Rasa's ResponseSelector, so `utter_faq`, the
evaluation and the fallback buttons work unchanged.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RESPONSES_KEY,
    RESPONSE_SELECTOR_RETRIEVAL_INTENTS,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
)
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix

from components.fitted_arrays import ArrayPersistence
from components.linear_intent_classifier import column_major_coefficients, has_features, sentence_matrix


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FaqSelector(ArrayPersistence, LogisticRegressionClassifier):
    """Logistic regression over the retrieval intent's keys (config: `retrieval_intent`), saved as arrays
    (components/fitted_arrays.py)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "retrieval_intent": "faq", "max_iter": 300}

    def _create_training_matrix(self, training_data: TrainingData) -> Tuple[csr_matrix, List[str]]:
        retrieval = self.config["retrieval_intent"]
        examples = [
            e
            for e in training_data.intent_examples
            if e.get(INTENT) == retrieval and e.get(INTENT_RESPONSE_KEY) and e.get("text")
        ]
        if not examples:  # _create_X can't stack nothing; an empty matrix makes train() skip fitting
            return csr_matrix((0, 0)), []
        return self._create_X(examples), [e.get(INTENT_RESPONSE_KEY) for e in examples]

    def process(self, messages: List[Message]) -> List[Message]:
        """Add the best `faq/<key>` (and a ranking) to every message, as Rasa's ResponseSelector does."""
        messages_with_features = [m for m in messages if has_features(m)]
        if not messages_with_features or not hasattr(self.clf, "classes_"):
            return messages
        column_major_coefficients(self.clf)
        probabilities = self.clf.predict_proba(sentence_matrix(messages_with_features))
        retrieval = self.config["retrieval_intent"]
        for message, row in zip(messages_with_features, probabilities):
            ranking = sorted(
                (
                    {INTENT_RESPONSE_KEY: key, PREDICTED_CONFIDENCE_KEY: float(p)}
                    for key, p in zip(self.clf.classes_, row)
                ),
                key=lambda r: -r[PREDICTED_CONFIDENCE_KEY],
            )
            best = ranking[0]
            properties = message.get(RESPONSE_SELECTOR_PROPERTY_NAME, {})
            properties[RESPONSE_SELECTOR_RETRIEVAL_INTENTS] = [retrieval]
            properties[retrieval] = {
                RESPONSE_SELECTOR_PREDICTION_KEY: {
                    RESPONSE_SELECTOR_RESPONSES_KEY: [],
                    PREDICTED_CONFIDENCE_KEY: best[PREDICTED_CONFIDENCE_KEY],
                    INTENT_RESPONSE_KEY: best[INTENT_RESPONSE_KEY],
                    RESPONSE_SELECTOR_UTTER_ACTION_KEY: "utter_" + best[INTENT_RESPONSE_KEY],
                },
                RESPONSE_SELECTOR_RANKING_KEY: ranking[:10],
            }
            message.set(RESPONSE_SELECTOR_PROPERTY_NAME, properties, add_to_output=True)
        return messages
