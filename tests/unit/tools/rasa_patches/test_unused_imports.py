"""JAX stays out of a process that applied the patches; TensorFlow still imports and works."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tools.rasa_patches.unused_imports import RefuseUnusedImports, refuse_unused_imports


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
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[] None"
