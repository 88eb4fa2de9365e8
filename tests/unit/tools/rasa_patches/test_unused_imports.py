"""JAX stays out of a process that applied the patches; TensorFlow too when the model does not need it,
and else it still imports and works."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path
from typing import List

import pytest

from tests.fresh_python import printed_lines
from tools.rasa_patches.unused_imports import (
    REFUSED_PACKAGES,
    STAND_IN_MODULES,
    TENSORFLOW_PACKAGES,
    RefuseUnusedImports,
    TensorFlowKeptOut,
    model_needs_tensorflow,
    refuse_unused_imports,
)

# The prediction graph of this project's model (config.yml), as Rasa writes it in metadata.json.
OUR_COMPONENTS = [
    "rasa.nlu.utils.spacy_utils.SpacyNLP",
    "components.linear_intent_classifier.LinearIntentClassifier",
    "rasa.core.policies.rule_policy.RulePolicy",
    "rasa.core.policies.memoization.MemoizationPolicy",
]


def model_archive(folder: Path, uses: List[str]) -> Path:
    """A model archive as Rasa 3.6 writes it, with a prediction graph of one node per class path."""
    metadata = {"predict_schema": {"nodes": {f"node{n}": {"uses": path} for n, path in enumerate(uses)}}}
    path = folder / "model.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        data = json.dumps(metadata).encode()
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("name", ["jax", "jax.numpy", "jaxlib", "jaxlib.xla_client"])
def test_the_finder_refuses_jax_and_its_modules(name: str) -> None:
    with pytest.raises(ImportError, match="not used by the assistant"):
        RefuseUnusedImports().find_spec(name)


@pytest.mark.parametrize("name", ["jaxy", "tensorflow", "numpy", "rasa.core.agent"])
def test_the_finder_leaves_every_other_import_to_the_next_finder(name: str) -> None:
    assert RefuseUnusedImports().find_spec(name) is None


def test_installing_twice_adds_one_finder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    refuse_unused_imports()
    refuse_unused_imports()
    assert sum(isinstance(finder, RefuseUnusedImports) for finder in sys.meta_path) == 1


def test_a_patched_rasa_process_loads_no_jax_and_tensorflow_takes_its_own_no_jax_path() -> None:
    """In a fresh interpreter, as tools.serve starts Rasa: apply, then import what `rasa run` imports."""
    script = (
        "import sys\n"
        "from tools import rasa_patches\n"
        "rasa_patches.apply()\n"
        "import rasa.core.run, rasa.core.agent\n"
        "import tensorflow as tf\n"
        "from tensorflow.lite.python import util\n"
        "assert float(tf.reduce_sum(tf.constant([1.0, 2.0]))) == 3.0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib')), util._xla_computation)\n"
    )
    assert printed_lines(script)[-1] == "[] None"


def test_a_model_without_tensorflow_components_does_not_need_it(tmp_path: Path) -> None:
    assert not model_needs_tensorflow(model_archive(tmp_path, OUR_COMPONENTS))


@pytest.mark.parametrize(
    "component",
    [
        "rasa.nlu.classifiers.diet_classifier.DIETClassifier",
        "rasa.core.policies.ted_policy.TEDPolicy",
        "rasa.nlu.selectors.response_selector.ResponseSelector",
        "rasa.nlu.featurizers.dense_featurizer.lm_featurizer.LanguageModelFeaturizer",
    ],
)
def test_a_model_with_a_tensorflow_component_needs_it(tmp_path: Path, component: str) -> None:
    assert model_needs_tensorflow(model_archive(tmp_path, [*OUR_COMPONENTS, component]))


@pytest.mark.parametrize("content", [b"", b"not an archive", None])
def test_a_model_that_cannot_be_read_keeps_tensorflow(tmp_path: Path, content) -> None:
    path = tmp_path / "model.tar.gz"
    if content is not None:
        path.write_bytes(content)
    assert model_needs_tensorflow(path)


def test_an_archive_without_metadata_keeps_tensorflow(tmp_path: Path) -> None:
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.addfile(tarfile.TarInfo("other.json"), io.BytesIO(b""))
    assert model_needs_tensorflow(path)


@pytest.mark.parametrize("name", ["tensorflow", "tensorflow.python.ops", "keras", "tensorboard.summary"])
def test_the_finder_refuses_tensorflow_only_when_told(name: str) -> None:
    assert RefuseUnusedImports().find_spec(name) is None
    with pytest.raises(ImportError, match="kept out of this Rasa server: its model has none of Rasa's TensorFlow"):
        RefuseUnusedImports(REFUSED_PACKAGES | TENSORFLOW_PACKAGES, STAND_IN_MODULES).find_spec(name)


def test_a_patched_rasa_process_whose_model_needs_no_tensorflow_never_loads_it(tmp_path: Path) -> None:
    """In a fresh interpreter, as tools.serve starts `rasa run`: what the server imports loads without
    TensorFlow (thinc too), and a stand-in for one of Rasa's TensorFlow components says why it can't run."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tools import rasa_patches\n"
        f"rasa_patches.apply(Path({str(model_archive(tmp_path, OUR_COMPONENTS))!r}))\n"
        "import rasa.core.run, rasa.core.agent, rasa.server, spacy, thinc.compat\n"
        "import rasa.engine.recipes.default_components, rasa.utils.train_utils\n"
        "from rasa.core.policies.ted_policy import TEDPolicy\n"
        "from tools.rasa_patches.unused_imports import TensorFlowKeptOut\n"
        "try:\n"
        "    TEDPolicy.load({}, None, None, None)\n"
        "except TensorFlowKeptOut as error:\n"
        "    print(error)\n"
        "print(thinc.compat.has_tensorflow, sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'jax')))\n"
    )
    refusal, modules = printed_lines(script)[-2:]
    assert "rasa.core.policies.ted_policy.TEDPolicy needs TensorFlow" in refusal
    assert modules == "False []"


def test_a_stand_in_class_refuses_to_be_built() -> None:
    from tools.rasa_patches.unused_imports import _stand_in_class

    stand_in = _stand_in_class("rasa.nlu.classifiers.diet_classifier", "DIETClassifier")
    for use in (stand_in, stand_in.create, stand_in.load):
        with pytest.raises(TensorFlowKeptOut, match="DIETClassifier needs TensorFlow"):
            use()
