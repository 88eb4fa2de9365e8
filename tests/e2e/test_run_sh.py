"""scripts/run.sh (what `make run` starts), embedded profile: Rasa and the action server come up and
answer /ready; the staff ticket API, which refuses every request without a token, is started only
when TICKETS_API_TOKENS is set. Ctrl-C stops every part."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Dict, List

import requests

from tests.e2e.servers import ROOT, free_port, model_path
from tests.security.test_rest_and_action_server import clean_env, nothing_listens

START_TIMEOUT = 180


def start_run_sh(env: Dict[str, str]) -> "tuple[subprocess.Popen, List[str]]":
    """run.sh in its own process group, and its output up to "The assistant is running." (fails otherwise)."""
    process = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: List[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C" in line:
            return process, lines
    stop(process)
    raise AssertionError("run.sh did not start: " + "".join(lines[-30:]))


def stop(process: subprocess.Popen) -> int:
    os.killpg(process.pid, signal.SIGINT)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


def test_make_run_starts_the_ticket_api_only_when_a_token_lets_someone_use_it() -> None:
    for token in ("", "alice:" + os.urandom(16).hex()):
        ports = {"RASA_PORT": free_port(), "ACTION_PORT": free_port(), "TICKETS_API_PORT": free_port()}
        env = clean_env(MODEL=model_path(), **{name: str(port) for name, port in ports.items()})
        env.pop("TICKETS_API_TOKEN", None)
        env["TICKETS_API_TOKENS"] = token
        process, lines = start_run_sh(env)
        try:
            output = "".join(lines)
            ready = requests.get(f"http://127.0.0.1:{ports['RASA_PORT']}/ready", timeout=10)
            assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
            if token:
                assert f"Ticket API:    http://127.0.0.1:{ports['TICKETS_API_PORT']}/tickets" in output, output
                health = requests.get(f"http://127.0.0.1:{ports['TICKETS_API_PORT']}/health", timeout=10)
                assert health.status_code == 200
            else:
                assert "Ticket API:    not started: set TICKETS_API_TOKENS" in output, output
                assert nothing_listens(ports["TICKETS_API_PORT"])
        finally:
            stop(process)
        assert nothing_listens(*ports.values())
