"""components/fitted_arrays.py: the logistic-regression components saved as arrays load as the same model
(the probabilities of Rasa's skops file, bit for bit), never run code from a model file, and keep skops
out of the process."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Type

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

from components.faq_selector import FaqSelector
from components.linear_intent_classifier import LinearIntentClassifier
from tests.fresh_python import printed_lines

CONTEXT = ExecutionContext(GraphSchema({}), "fitted-arrays")
LABELS = ["forgot_password", "greet", "spam", "faq/sms_code"]


def config_of(cls: Type[Any]) -> Dict[str, Any]:
    return {**cls.get_default_config(), "max_iter": 300, "random_state": 42}


def fitted(cls: Type[Any], storage: LocalModelStorage, name: str, seed: int = 0) -> Any:
    """A component of `cls` fitted on random sparse rows and persisted by its own `persist`."""
    rng = np.random.default_rng(seed)
    rows = scipy.sparse.random(60, 40, density=0.2, format="csr", random_state=seed)
    labels = [LABELS[i % len(LABELS)] for i in range(60)]
    component = cls.create(config_of(cls), storage, Resource(name), CONTEXT)
    component.clf.fit(rows + scipy.sparse.csr_matrix(rng.random((60, 40)) < 0.05), labels)
    component.persist()
    return component


def load(cls: Type[Any], storage: LocalModelStorage, name: str) -> Any:
    return cls.load(config_of(cls), storage, Resource(name), CONTEXT)


@pytest.mark.parametrize("cls", [LinearIntentClassifier, FaqSelector])
def test_a_loaded_component_predicts_what_rasas_skops_file_predicts(cls: Type[Any], tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    ours = fitted(cls, storage, "ours", seed=3)
    fitted(LogisticRegressionClassifier, storage, "rasas", seed=3)  # the same fit, saved by skops
    loaded, from_skops = load(cls, storage, "ours"), load(LogisticRegressionClassifier, storage, "rasas")
    assert type(loaded) is cls and list(loaded.clf.classes_) == list(from_skops.clf.classes_)
    rows = scipy.sparse.random(25, 40, density=0.3, format="csr", random_state=7)
    expected = from_skops.clf.predict_proba(rows)
    assert np.array_equal(loaded.clf.predict_proba(rows), expected)
    assert np.array_equal(ours.clf.predict_proba(rows), expected)
    assert loaded.clf.get_params() == from_skops.clf.get_params() and loaded.clf.n_iter_ == from_skops.clf.n_iter_
    assert sorted(path.name for path in (tmp_path / "ours").iterdir()) == ["ours.npz"]


def test_a_component_that_was_never_fitted_loads_unfitted_as_rasas_does(tmp_path: Path) -> None:
    loaded = load(FaqSelector, LocalModelStorage(tmp_path), "never-trained")
    assert type(loaded) is FaqSelector and not hasattr(loaded.clf, "classes_")


class _Payload:
    ran = False

    def __reduce__(self) -> Any:
        return (setattr, (_Payload, "ran", True))


def test_a_model_file_holding_a_pickled_object_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    fitted(LinearIntentClassifier, storage, "tampered")
    np.savez(tmp_path / "tampered" / "tampered.npz", classes_=np.array([_Payload()], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        load(LinearIntentClassifier, storage, "tampered")
    assert _Payload.ran is False


def test_a_damaged_model_file_is_an_error_not_an_empty_classifier(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    fitted(LinearIntentClassifier, storage, "damaged")
    (tmp_path / "damaged" / "damaged.npz").write_bytes(b"not a zip file")
    with pytest.raises(Exception) as raised:
        load(LinearIntentClassifier, storage, "damaged")
    assert not isinstance(raised.value, AssertionError)


def test_loading_the_components_keeps_skops_out_of_the_process(tmp_path: Path) -> None:
    """In a fresh interpreter, as the server: import what `rasa run` imports, load both components."""
    storage = LocalModelStorage(tmp_path)
    fitted(LinearIntentClassifier, storage, "intents")
    fitted(FaqSelector, storage, "faq")
    script = (
        "import sys\n"
        "import rasa.core.run, rasa.core.agent\n"
        "from rasa.engine.graph import ExecutionContext, GraphSchema\n"
        "from rasa.engine.storage.local_model_storage import LocalModelStorage\n"
        "from rasa.engine.storage.resource import Resource\n"
        "from components.faq_selector import FaqSelector\n"
        "from components.linear_intent_classifier import LinearIntentClassifier\n"
        "from pathlib import Path\n"
        f"storage = LocalModelStorage(Path({str(tmp_path)!r}))\n"
        "context = ExecutionContext(GraphSchema({}), 'x')\n"
        "for cls, name in ((LinearIntentClassifier, 'intents'), (FaqSelector, 'faq')):\n"
        "    component = cls.load(cls.get_default_config(), storage, Resource(name), context)\n"
        "    assert hasattr(component.clf, 'coef_')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('skops', 'pytest', '_pytest')))\n"
    )
    assert printed_lines(script)[-1] == "[]"
