"""Keep JAX out of the Rasa server: 65 MB of memory no part of the assistant uses (issue 15).

spaCy's thinc imports TensorFlow when it is installed, and TensorFlow 2.12's `tf.lite` then
imports JAX (a TensorFlow 2.12 dependency) for `tf.lite`'s JAX converter, inside its own
`try: from jax import xla_computation / except ImportError`. Nothing here converts models to
TensorFlow Lite, so the Rasa process refuses the import and TensorFlow takes its own
"JAX is not installed" path. Measured: a process that imported `rasa.core.agent` and
`rasa.core.run` held 547 MB with JAX and 482 MB without (README, "Lean and fast").
"""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder
from typing import Any, FrozenSet, Optional, Sequence

REFUSED_PACKAGES: FrozenSet[str] = frozenset({"jax", "jaxlib"})


class RefuseUnusedImports(MetaPathFinder):
    """An import finder that answers ImportError for the packages in `REFUSED_PACKAGES`."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target: Any = None) -> None:
        if fullname.split(".", 1)[0] in REFUSED_PACKAGES:
            raise ImportError(f"{fullname} is not used by the assistant (tools/rasa_patches/unused_imports.py)")
        return None


def refuse_unused_imports() -> None:
    """Install the finder first on `sys.meta_path` (idempotent). It must run before anything imports
    TensorFlow: once JAX is loaded, refusing it later saves nothing."""
    if not any(isinstance(finder, RefuseUnusedImports) for finder in sys.meta_path):
        sys.meta_path.insert(0, RefuseUnusedImports())
