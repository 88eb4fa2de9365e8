"""Training and serving a bot (tools/bench/bots.py): the command lines, the children's environment,
the processes the run starts (small Python children) and the readiness check of a REST webhook."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.fake_http import RecordingServer
from tools.bench import bots


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[bots.Bench]:
    run = bots.Bench(argparse.Namespace(), tmp_path, bots.Processes("run-42"), Path(sys.executable), ["hi"])
    yield run
    run.procs.stop_all()


def test_rasa_starts_through_the_projects_entry_point(bench):
    assert bench.rasa("run", "--port", "5005") == [sys.executable, "-m", "tools.serve", "run", "--port", "5005"]
    assert bench.action_server(5055) == [
        *(sys.executable, "-m", "tools.serve", "actions"),
        *("--actions", "actions", "--host", "127.0.0.1", "--port", "5055"),
    ]


def test_base_env(bench, monkeypatch):
    monkeypatch.setenv("SANIC_WORKERS", "4")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = bench.base_env()
    assert "PYTHONPATH" not in env and "SANIC_WORKERS" not in env
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "2" and env["RASA_TELEMETRY_ENABLED"] == "false"
    assert "SANIC_WORKERS" in os.environ  # the benchmark's own environment is left alone


def test_processes_carry_the_run_marker_and_stop_all_stops_them(bench, tmp_path):
    log = tmp_path / "child.log"
    code = f"import os, time; print(os.environ['{bots.RUN_MARKER}'], flush=True); time.sleep(60)"
    first = bench.procs.start([sys.executable, "-c", code], tmp_path, dict(os.environ), log)
    second = bench.procs.start([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path, {}, tmp_path / "b")
    assert bench.procs.started == [first, second]
    deadline = time.monotonic() + 10
    while not log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.read_text().strip() == "run-42"
    bench.procs.stop_all()
    assert bench.procs.started == [] and first.returncode is not None and second.returncode is not None
    bench.procs.stop(first)  # stopping twice is harmless


def test_run_timed(bench, tmp_path):
    seconds = bots.run_timed(bench.procs, [sys.executable, "-c", "pass"], tmp_path, dict(os.environ), tmp_path / "ok")
    assert isinstance(seconds, float) and seconds >= 0 and bench.procs.started == []
    failing = [sys.executable, "-c", "import sys; print('the reason'); sys.exit(3)"]
    with pytest.raises(bots.BenchError, match=r"failed with 3:\nthe reason"):
        bots.run_timed(bench.procs, failing, tmp_path, dict(os.environ), tmp_path / "fail")
    assert bench.procs.started == []


def test_answers_needs_a_non_empty_answer():
    answer = []
    webhook = RecordingServer(lambda record: (200, answer))
    try:
        url = webhook.url + "/webhooks/rest/webhook"
        assert not bots.answers(url)
        answer.append({"text": "Hi!"})
        assert bots.answers(url)
        assert webhook.snapshot()[-1]["json"] == {"sender": "bench-ready", "message": bots.READY_MESSAGE}
    finally:
        webhook.close()
