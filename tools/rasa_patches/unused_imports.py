"""Keep out of the Rasa server what no part of it uses (issue 15): JAX always, and TensorFlow when the
model has no component running on it.

JAX: spaCy's thinc imports TensorFlow when it is installed, and TensorFlow 2.12's `tf.lite` then
imports JAX for its JAX converter, inside its own `try: from jax import xla_computation / except
ImportError`. Nothing here converts models to TensorFlow Lite, so the import is refused and TensorFlow
takes its own "JAX is not installed" path (65 MB; README, "Lean and fast").

TensorFlow: this assistant's model runs scikit-learn classifiers and Rasa's rule and memoization
policies, none of which touch TensorFlow, yet Rasa imports it on the way to loading any model (its
component registry lists DIET, TED and the response selector; `rasa.utils.train_utils` imports the
training callbacks) and thinc imports it when installed: about 300 MB of the server's memory. When the
model Rasa will load is a local archive whose prediction graph has none of Rasa's TensorFlow components
(`model_needs_tensorflow`, reading the archive's `metadata.json`), TensorFlow's packages are refused
(thinc takes its own "not installed" path) and the few Rasa modules that import TensorFlow but are
imported by name on the way are replaced by stand-ins (`STAND_IN_MODULES`): their classes exist, for
the registry to list, and raise `TensorFlowKeptOut` when used. A model with a TensorFlow component, or
one Rasa fetches from elsewhere, keeps TensorFlow as before. Training (`rasa train`) never runs here.
"""

from __future__ import annotations

import json
import sys
import tarfile
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, FrozenSet, Optional, Sequence

REFUSED_PACKAGES: FrozenSet[str] = frozenset({"jax", "jaxlib"})
TENSORFLOW_PACKAGES: FrozenSet[str] = frozenset(
    {"tensorflow", "tensorflow_addons", "tensorflow_hub", "tensorflow_text", "keras", "tensorboard"}
)
# Rasa 3.6's components that run on TensorFlow: a model whose prediction graph uses one keeps it.
TENSORFLOW_COMPONENT_MODULES: FrozenSet[str] = frozenset(
    {
        "rasa.nlu.classifiers.diet_classifier",
        "rasa.nlu.selectors.response_selector",
        "rasa.core.policies.ted_policy",
        "rasa.core.policies.unexpected_intent_policy",
        "rasa.nlu.featurizers.dense_featurizer.convert_featurizer",
        "rasa.nlu.featurizers.dense_featurizer.lm_featurizer",
    }
)
# The modules importing TensorFlow that TensorFlow-free modules of Rasa import by name all the same:
# the components (listed by the component registry, rasa.engine.recipes.default_components, and the
# recipe validator) and the training callbacks and batches (rasa.utils.train_utils, imported by every
# entity extractor).
STAND_IN_MODULES: FrozenSet[str] = TENSORFLOW_COMPONENT_MODULES | frozenset(
    {"rasa.utils.tensorflow.callback", "rasa.utils.tensorflow.data_generator"}
)
MODEL_METADATA = "metadata.json"  # in Rasa 3.6's model archive: the graph schemas, as JSON


class TensorFlowKeptOut(ImportError):
    """A stand-in for a Rasa class that needs TensorFlow was used."""


class RefuseUnusedImports(MetaPathFinder):
    """An import finder that answers ImportError for the packages in `refused`, and a stand-in module
    for the names in `stand_ins`."""

    def __init__(self, refused: FrozenSet[str] = REFUSED_PACKAGES, stand_ins: FrozenSet[str] = frozenset()) -> None:
        self.refused, self.stand_ins = refused, stand_ins

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]] = None, target: Any = None
    ) -> Optional[ModuleSpec]:
        package = fullname.split(".", 1)[0]
        if package in self.refused:
            why = (
                "kept out of this Rasa server: its model has none of Rasa's TensorFlow components "
                "(a component of the model that needs it belongs in TENSORFLOW_COMPONENT_MODULES)"
                if package in TENSORFLOW_PACKAGES
                else "not used by the assistant"
            )
            raise ImportError(f"{fullname} is {why} (tools/rasa_patches/unused_imports.py)")
        if fullname in self.stand_ins:
            return ModuleSpec(fullname, _StandInLoader())
        return None


class _StandInLoader(Loader):
    """Makes a module whose every public name is a stand-in class (`_stand_in_class`)."""

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # Python's default module object

    def exec_module(self, module: ModuleType) -> None:
        classes: Dict[str, type] = {}

        def stand_in(name: str) -> type:
            if name.startswith("__"):
                raise AttributeError(name)
            return classes.setdefault(name, _stand_in_class(module.__name__, name))

        module.__getattr__ = stand_in  # type: ignore[method-assign]


def _stand_in_class(module: str, name: str) -> type:
    """A class named `name` that raises `TensorFlowKeptOut` when built, created or loaded."""

    def refuse(*_: Any, **__: Any) -> Any:
        raise TensorFlowKeptOut(
            f"{module}.{name} needs TensorFlow, which this Rasa server does not load because its model "
            "has no TensorFlow component (tools/rasa_patches/unused_imports.py)"
        )

    return type(
        name, (), {"__module__": module, "__init__": refuse, "create": classmethod(refuse), "load": classmethod(refuse)}
    )


def model_needs_tensorflow(model: Path) -> bool:
    """Whether the model archive at `model` has a TensorFlow component in its prediction graph; True when
    the archive or its metadata cannot be read (then TensorFlow is kept). Nothing is extracted."""
    try:
        with tarfile.open(model, "r:gz") as archive:
            member = archive.extractfile(MODEL_METADATA)
            if member is None:
                return True
            nodes = json.load(member)["predict_schema"]["nodes"].values()
            return any(str(node["uses"]).rsplit(".", 1)[0] in TENSORFLOW_COMPONENT_MODULES for node in nodes)
    except (OSError, tarfile.TarError, KeyError, TypeError, AttributeError, ValueError):
        return True


def refuse_unused_imports(model: Optional[Path] = None) -> None:
    """Install the finder first on `sys.meta_path` (once): JAX refused, and TensorFlow too when `model`
    (the archive the server will load) does not need it. It must run before anything imports
    TensorFlow: once it is loaded, refusing it later saves nothing."""
    if any(isinstance(finder, RefuseUnusedImports) for finder in sys.meta_path):
        return
    if model is not None and "tensorflow" not in sys.modules and not model_needs_tensorflow(model):
        sys.meta_path.insert(0, RefuseUnusedImports(REFUSED_PACKAGES | TENSORFLOW_PACKAGES, STAND_IN_MODULES))
    else:
        sys.meta_path.insert(0, RefuseUnusedImports())
