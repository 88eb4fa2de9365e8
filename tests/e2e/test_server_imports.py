"""The Rasa server answers without TensorFlow or JAX in its memory: its model has no TensorFlow
component, so tools.serve keeps both out (tools/rasa_patches/unused_imports.py; issue 15, about 300 MB)."""

from __future__ import annotations

from pathlib import Path


def test_the_rasa_server_answers_with_neither_tensorflow_nor_jax_loaded(servers, sender) -> None:
    replies = servers.say(sender, "I forgot my password")
    assert "Forgotten Password" in replies[0]["text"]
    rasa = servers.processes[1]  # [action server, Rasa]
    mapped = {line.split()[-1] for line in Path(f"/proc/{rasa.pid}/maps").read_text().splitlines() if "/" in line}
    assert [path for path in mapped if "/site-packages/spacy/" in path]  # the maps are the Rasa server's
    assert [path for path in mapped if "/site-packages/tensorflow/" in path or "/jax" in path] == []
