"""Start the real action server and Rasa server on free local ports for end-to-end tests."""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import requests

ROOT = Path(__file__).resolve().parents[2]
RASA = ROOT / ".venv" / "bin" / "rasa"
REQUEST_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def model_path() -> str:
    """The model `make` trained (ALIMAIL_MODEL), else the newest one in models/."""
    model = os.environ.get("ALIMAIL_MODEL")
    if model:
        return str(ROOT / model) if not os.path.isabs(model) else model
    models = sorted(glob.glob(str(ROOT / "models" / "*.tar.gz")), key=os.path.getmtime)
    if not models:
        raise RuntimeError("no trained model: run `make train` first")
    return models[-1]


def wait_until(url: str, process: subprocess.Popen, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {seconds}s:\n{log.read_text()[-4000:]}")


@dataclass
class Servers:
    rasa_url: str
    action_url: str
    processes: List[subprocess.Popen]
    tickets_db_url: str

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def say(self, sender: str, message: Any) -> List[Dict[str, Any]]:
        """Send one message over the REST channel; returns the bot's replies."""
        response = requests.post(f"{self.rasa_url}/webhooks/rest/webhook",
                                 json={"sender": sender, "message": message}, timeout=REQUEST_TIMEOUT)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def start_servers(workdir: Path, model: Optional[str] = None, extra_env: Optional[Dict[str, str]] = None,
                  credentials: Optional[Path] = None) -> Servers:
    """Action server, then Rasa (REST channel) pointing at it; both on 127.0.0.1.

    Tickets go to a SQLite file in `workdir` unless `extra_env` names another TICKETS_DB_URL.
    """
    action_port, rasa_port = free_port(), free_port()
    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n')
    env = dict(os.environ, SANIC_HOST="127.0.0.1", PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2",
               TICKETS_DB_URL=f"sqlite:///{workdir / 'tickets.sqlite3'}")
    env.pop("TICKET_WEBHOOK_URL", None)
    env.update(extra_env or {})
    action_log = workdir / "actions.log"
    rasa_log = workdir / "rasa.log"
    actions = subprocess.Popen([str(RASA), "run", "actions", "--actions", "actions", "--port", str(action_port)],
                               cwd=ROOT, env=env, stdout=action_log.open("w"), stderr=subprocess.STDOUT)
    processes = [actions]
    try:
        wait_until(f"http://127.0.0.1:{action_port}/health", actions, action_log, 120)
        rasa = subprocess.Popen([str(RASA), "run", "--model", model or model_path(), "--interface", "127.0.0.1",
                                 "--port", str(rasa_port), "--credentials", str(credentials or ROOT / "credentials.yml"),
                                 "--endpoints", str(endpoints)],
                                cwd=ROOT, env=env, stdout=rasa_log.open("w"), stderr=subprocess.STDOUT)
        processes.append(rasa)
        wait_until(f"http://127.0.0.1:{rasa_port}/", rasa, rasa_log, 300)
    except Exception:
        for process in processes:
            process.kill()
        raise
    return Servers(f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{action_port}", processes,
                   env["TICKETS_DB_URL"])
