"""This assistant's part of the benchmark (tools/bench/ours.py): endpoints, workers, the model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
import yaml

from tools.bench import ROOT, bots, ours


def make_bench(tmp_path: Path, **args: object) -> bots.Bench:
    defaults = {"endpoints": None, "skip_train": True, "model": None}
    namespace = argparse.Namespace(**{**defaults, **args})
    return bots.Bench(namespace, tmp_path, bots.Processes("run"), Path(sys.executable), [])


def test_generated_endpoints_keep_trackers_in_the_temp_folder(tmp_path):
    path = ours.ours_endpoints(make_bench(tmp_path), 5055)
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert path.parent == tmp_path
    assert config["action_endpoint"] == {"url": "http://127.0.0.1:5055/webhook"}
    assert config["tracker_store"] == {  # the store `make run` uses (endpoints.yml)
        "type": "stores.masking.MaskingSQLTrackerStore",
        "dialect": "sqlite",
        "db": str(tmp_path / "ours-trackers.sqlite3"),
    }


def test_the_production_profile_uses_postgresql_and_redis(tmp_path):
    config = yaml.safe_load(ours.ours_endpoints(make_bench(tmp_path, profile="production"), 5055).read_text())
    assert config["tracker_store"]["dialect"] == "postgresql"
    assert ours.lock_store_allows_workers(tmp_path / "ours-endpoints.yml")


def test_given_endpoints_are_kept_but_point_at_the_benchs_action_server(tmp_path):
    given = tmp_path / "given.yml"
    given.write_text(
        "action_endpoint:\n  url: http://elsewhere:5055/webhook\nlock_store:\n  type: redis\n  url: localhost\n"
    )
    path = ours.ours_endpoints(make_bench(tmp_path, endpoints=str(given)), 6000)
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert config == {
        "action_endpoint": {"url": "http://127.0.0.1:6000/webhook"},
        "lock_store": {"type": "redis", "url": "localhost"},
    }
    assert "elsewhere" in given.read_text()  # the given file itself is not changed


@pytest.mark.parametrize(
    "text, allowed",
    [
        ("tracker_store:\n  type: SQL\n", False),
        ("lock_store:\n  type: in_memory\n", False),
        ("lock_store:\n  type: redis\n  url: localhost\n", True),
        ("", False),
    ],
)
def test_lock_store_allows_workers(tmp_path, text, allowed):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(text)
    assert ours.lock_store_allows_workers(endpoints) is allowed


def test_sanic_workers_sets_the_variable_and_says_whether_rasa_honours_it(tmp_path, capsys):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("tracker_store:\n  type: SQL\n")
    env: dict = {}
    assert ours.sanic_workers(2, endpoints, env) == {"sanic_workers": 2, "sanic_workers_honoured": False}
    assert env["SANIC_WORKERS"] == "2" and "lock store" in capsys.readouterr().err
    assert ours.sanic_workers(1, endpoints, env)["sanic_workers_honoured"] is True


def test_prepare_ours_serves_the_given_model_without_training(tmp_path):
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"")
    figures, bot = ours.prepare_ours(make_bench(tmp_path, model=str(model)))
    assert figures == {"training_s": None, "training_skipped": True, "model": str(model)}
    assert (bot.name, bot.project, bot.model, bot.actions) == ("ours", ROOT, model.resolve(), True)
    assert bot.credentials == ROOT / "credentials.yml" and bot.endpoints is None
    assert "PYTHONPATH" not in bot.env


def test_prepare_ours_without_a_model_fails(tmp_path):
    with pytest.raises(bots.BenchError, match="no model to serve"):
        ours.prepare_ours(make_bench(tmp_path, model=str(tmp_path / "missing.tar.gz")))
