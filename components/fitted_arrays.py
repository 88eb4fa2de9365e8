"""A fitted logistic regression kept in the model as plain arrays (`<resource>.npz`), read without pickle.

Rasa's LogisticRegressionClassifier persists its scikit-learn model with skops, whose import lists
every scikit-learn estimator (`all_estimators()`: ~370 modules, 18 MB of the Rasa server's memory;
README "Lean and fast", issue 15) only to know which types to trust. A fitted LogisticRegression is
its parameters, which the component builds from config.yml as before, and the arrays fitting adds:
those are saved here and set back on load. `numpy.load(allow_pickle=False)` reads arrays and nothing
else, so a model file can't run code, which is what skops' trust check was for.
"""

from __future__ import annotations

from typing import Any, Dict, Text

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

# What LogisticRegression.fit sets (scikit-learn 1.1; `feature_names_in_` only for a DataFrame).
FITTED_ATTRIBUTES = ("classes_", "coef_", "intercept_", "n_features_in_", "n_iter_")


def fitted_arrays(clf: Any) -> Dict[str, np.ndarray]:
    """The fitted attributes of `clf` as arrays numpy saves without pickle (labels as unicode)."""
    arrays = {name: np.asarray(getattr(clf, name)) for name in FITTED_ATTRIBUTES if hasattr(clf, name)}
    if "classes_" in arrays:
        arrays["classes_"] = arrays["classes_"].astype(str)
    return arrays


def set_fitted(clf: Any, arrays: Dict[str, np.ndarray]) -> None:
    """Set saved fitted attributes back on an unfitted `clf` (a 0-d array becomes its number)."""
    for name, value in arrays.items():
        setattr(clf, name, value.item() if value.ndim == 0 else value)


class ArrayPersistence:
    """`persist` and `load` for a LogisticRegressionClassifier subclass, replacing Rasa's skops file."""

    clf: Any
    _model_storage: ModelStorage
    _resource: Resource

    def persist(self) -> None:
        """Save the fitted arrays (called by Rasa's `train` after fitting)."""
        with self._model_storage.write_to(self._resource) as model_dir:
            np.savez(model_dir / f"{self._resource.name}.npz", **fitted_arrays(self.clf))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> Any:
        """The component as trained; unfitted when training saved nothing (no examples), as Rasa's.
        A damaged or missing array file is an error, not a silently empty classifier."""
        try:
            with model_storage.read_from(resource) as model_dir:
                with np.load(model_dir / f"{resource.name}.npz", allow_pickle=False) as saved:
                    arrays = {name: saved[name] for name in saved.files}
        except ValueError:
            if not _resource_exists(model_storage, resource):
                return cls.create(config, model_storage, resource, execution_context)  # type: ignore[attr-defined]
            raise
        component = cls(config, execution_context.node_name, model_storage, resource)  # type: ignore[call-arg]
        set_fitted(component.clf, arrays)
        return component


def _resource_exists(model_storage: ModelStorage, resource: Resource) -> bool:
    """Whether training persisted anything for `resource` (`read_from` raises ValueError when not)."""
    try:
        with model_storage.read_from(resource):
            return True
    except ValueError:
        return False
