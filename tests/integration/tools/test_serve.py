"""`python -m tools.serve` in a fresh process refuses an untested Rasa before starting anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
import requests

from tools import processes


def test_serve_refuses_to_start_on_an_untested_rasa() -> None:
    """The entry point exits 1 with the reason, before Rasa parses any argument."""
    code = (
        "import rasa, sys; rasa.__version__ = '9.9.9'; sys.argv = ['serve', 'run']; "
        "from tools import serve; serve.main()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Not starting: Rasa 9.9.9 is installed" in result.stderr


# -- the action server entry point, as a real process ---------------------------------------------------
ROOT = Path(__file__).resolve().parents[3]
TOKEN = "integration-action-t0ken"


def serve_env(**values: str) -> Dict[str, str]:
    env = dict(os.environ, **values)
    for name in ("ACTION_SERVER_TOKEN", "ALIMAIL_PROFILE", "REST_API_TOKEN"):
        if name not in values:
            env.pop(name, None)
    env.pop("TICKET_WEBHOOK_URL", None)
    return env


def test_the_action_server_process_checks_the_token(tmp_path: Path) -> None:
    """`python -m tools.serve actions` with ACTION_SERVER_TOKEN: /health open, every call needs the token."""
    port = processes.free_port()
    log = tmp_path / "actions.log"
    env = serve_env(ACTION_SERVER_TOKEN=TOKEN, TICKETS_DB_URL=f"sqlite:///{tmp_path / 't.sqlite3'}")
    command = [sys.executable, "-m", "tools.serve", "actions", "--actions", "actions", "--port", str(port)]
    process = processes.start(command, ROOT, env, log)
    base = f"http://127.0.0.1:{port}"  # --host defaults to 127.0.0.1
    try:
        processes.wait_until(f"{base}/health", process, log, 120)
        call = {"next_action": "action_ticket_status", "sender_id": "x", "tracker": {}, "domain": {}}
        assert requests.post(f"{base}/webhook", json=call, timeout=30).status_code == 401
        wrong = {"Authorization": "Bearer wrong"}
        assert requests.post(f"{base}/webhook", json=call, headers=wrong, timeout=30).status_code == 401
        right = {"Authorization": f"Bearer {TOKEN}"}
        assert requests.get(f"{base}/actions", headers=right, timeout=30).status_code == 200
    finally:
        processes.stop(process, grace=20)


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["actions", "--actions", "actions"], {"ALIMAIL_PROFILE": "production"}, "ACTION_SERVER_TOKEN is unset"),
        (["actions", "--actions", "actions", "--host", "0.0.0.0"], {}, "would accept any caller on 0.0.0.0"),
        (["preflight", "--interface", "0.0.0.0", "--action-host", "127.0.0.1"], {}, "REST_API_TOKEN"),
    ],
)
def test_the_entry_point_refuses_with_the_reason(args: List[str], env: Dict[str, str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.serve", *args],
        cwd=ROOT,
        env=serve_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "Not starting" in result.stderr and message in result.stderr, result.stderr
