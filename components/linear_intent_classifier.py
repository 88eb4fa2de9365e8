"""Rasa's logistic-regression intent classifier, safe for messages without features.

Rasa 3.6's LogisticRegressionClassifier raises on a message with no features at
all (an empty or blank message: "Found array with 0 feature(s)"), which loses
the message. Such messages get no intent here, so the FallbackClassifier turns
them into `nlu_fallback` and the bot asks for words (phrase `no_words`).
"""

from __future__ import annotations

from typing import Any, List, Tuple

import numpy as np
import scipy.sparse
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.tensorflow.constants import RANKING_LENGTH

from components.fitted_arrays import ArrayPersistence


def _sentence_blocks(message: Message) -> List[Any]:
    """The text's sentence feature matrices, sparse ones first, each kind in the featurizers' order.

    The order `Message.get_sparse_features` / `get_dense_features` combine them in (and Rasa's
    `_create_X` puts sparse before dense), so the columns of a row are the same.
    """
    sentence = [f for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE]
    return [f.features for f in sentence if f.is_sparse()] + [f.features for f in sentence if f.is_dense()]


def has_features(message: Message) -> bool:
    """True when a featurizer produced anything for the message's text (a non-empty sentence feature)."""
    sentence = [f for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE]
    return any(
        sum(f.features.shape[-1] for f in kind) > 0 and kind[0].features.shape[0] > 0
        for kind in ([f for f in sentence if f.is_sparse()], [f for f in sentence if f.is_dense()])
        if kind
    )


def column_major_coefficients(clf: Any) -> None:
    """Store a fitted model's `coef_` column-major, in place; same values.

    scikit-learn multiplies a sparse row by `coef_.T`, which scipy flattens with `ravel()`: for
    the row-major `coef_` that fitting and loading give, a copy of all the coefficients on every
    prediction (~0.2 ms, most of `predict_proba`). Column-major, `coef_.T` is contiguous and
    `ravel()` a view; scipy reads the same numbers in the same order, so the result is identical.
    """
    coef = getattr(clf, "coef_", None)
    if isinstance(coef, np.ndarray) and not coef.T.flags.c_contiguous:
        clf.coef_ = np.asfortranarray(coef)


def _row_entries(block: Any) -> Tuple[np.ndarray, np.ndarray]:
    """(columns, values) of a one-row feature matrix, sparse or dense, in stored order."""
    if scipy.sparse.isspmatrix_coo(block):
        return block.col, block.data
    if scipy.sparse.isspmatrix_csr(block):
        return block.indices, block.data
    if scipy.sparse.issparse(block):
        coo = block.tocoo()
        return coo.col, coo.data
    dense = np.asarray(block).reshape(-1)
    columns = np.flatnonzero(dense)
    return columns, dense[columns]


def sentence_matrix(messages: List[Message]) -> scipy.sparse.csr_matrix:
    """The rows Rasa's `LogisticRegressionClassifier._create_X` builds, without its overhead.

    Rasa combines the five featurizers' matrices pairwise (a deep copy and four `hstack`s) for the
    sequence and the sentence features alike, once per call of `get_sparse_features`, then
    `hstack`s and `vstack`s again: about half of a parse's time. Here only the sentence features'
    entries are concatenated (columns shifted by the widths before them) into one CSR matrix,
    whose indices are then sorted and duplicates summed as scipy's conversions do: the same
    columns, values, order and dtype, so the probabilities are bit-identical (a unit test compares
    with `_create_X`).
    """
    blocks = [_sentence_blocks(m) for m in messages]
    if not blocks:
        return scipy.sparse.csr_matrix((0, 0))
    if any(b.shape[0] != 1 for row in blocks for b in row):  # not one row per message: scipy's way
        rows = [scipy.sparse.hstack([scipy.sparse.csr_matrix(b) for b in row]) for row in blocks]
        return scipy.sparse.vstack(rows, format="csr")
    width = sum(b.shape[-1] for b in blocks[0])
    columns: List[np.ndarray] = []
    values: List[np.ndarray] = []
    indptr = [0]
    for row in blocks:
        offset = 0
        for block in row:
            block_columns, block_values = _row_entries(block)
            columns.append(np.asarray(block_columns, dtype=np.int64) + offset)
            values.append(block_values)
            offset += block.shape[-1]
        indptr.append(indptr[-1] + sum(len(c) for c in columns[len(columns) - len(row) :]))
    index_dtype = np.int32 if max(width, indptr[-1]) < 2**31 else np.int64
    matrix = scipy.sparse.csr_matrix(
        (
            # float64 at least, as Rasa's `hstack` with its float64 `csr_matrix([])` makes it
            np.concatenate(values).astype(np.result_type(np.float64, *values), copy=False) if values else np.zeros(0),
            np.concatenate(columns).astype(index_dtype) if columns else np.zeros(0, dtype=index_dtype),
            np.asarray(indptr, dtype=index_dtype),
        ),
        shape=(len(messages), width),
    )
    matrix.sum_duplicates()
    return matrix


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(ArrayPersistence, LogisticRegressionClassifier):
    """LogisticRegressionClassifier that leaves featureless messages without an intent (and is saved as
    arrays: components/fitted_arrays.py)."""

    def process(self, messages: List[Message]) -> List[Message]:
        featured = []
        for message in messages:
            if has_features(message):
                featured.append(message)
            else:
                message.set("intent", {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set("intent_ranking", [], add_to_output=True)
        if featured:
            self._rank(featured)
        return messages

    def _rank(self, messages: List[Message]) -> None:
        """Rasa's `process` (same intent and ranking entries) on `sentence_matrix`'s rows."""
        column_major_coefficients(self.clf)
        probabilities = self.clf.predict_proba(sentence_matrix(messages))
        for message, row in zip(messages, probabilities):
            ranking = sorted(
                ({"name": k, "confidence": v} for k, v in zip(self.clf.classes_, row)), key=lambda e: -e["confidence"]
            )
            intent = ranking[0]
            if self.config[RANKING_LENGTH] > 0:
                ranking = ranking[: self.config[RANKING_LENGTH]]
            message.set("intent", intent, add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
