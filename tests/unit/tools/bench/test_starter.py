"""The starter bot (tools/bench/starter.py): which of `rasa init`'s models is served."""

from __future__ import annotations

import os

import pytest

from tools.bench import bots, starter


def test_newest_model(tmp_path):
    for age, name in enumerate(["b.tar.gz", "a.tar.gz", "c.tar.gz"]):
        (tmp_path / name).write_bytes(b"")
        os.utime(tmp_path / name, (1000 + age, 1000 + age))
    (tmp_path / "notes.txt").write_text("not a model")
    assert starter.newest_model(tmp_path) == tmp_path / "c.tar.gz"


def test_no_model_fails(tmp_path):
    with pytest.raises(bots.BenchError, match="no model in"):
        starter.newest_model(tmp_path)
