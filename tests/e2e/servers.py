"""Start the real action server and Rasa server on free local ports for end-to-end tests.

Processes start and stop through tools.processes (the benchmark's too); `free_port` and
`wait_until` are re-exported from there for the tests that import them from here.
"""

from __future__ import annotations

import glob
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import requests

from channels.rest import CONVERSATION_PREFIX
from tools.processes import free_port, start, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
# Rasa and the action server through the project's entry point (version check, patches, tokens).
RASA = [sys.executable, "-m", "tools.serve"]
ACTION_SERVER = [sys.executable, "-m", "tools.serve", "actions", "--host", "127.0.0.1"]
REQUEST_TIMEOUT = 60
TRACKER_STORE = "stores.masking.MaskingSQLTrackerStore"  # endpoints.yml's tracker store class


def conversation_id(sender: str) -> str:
    """The tracker store's (and a ticket's) id of a REST `sender`: REST conversations are kept apart."""
    return CONVERSATION_PREFIX + sender


def model_path() -> str:
    """The model `make` trained (ALIMAIL_MODEL), else the newest one in models/."""
    model = os.environ.get("ALIMAIL_MODEL")
    if model:
        return str(ROOT / model) if not os.path.isabs(model) else model
    models = sorted(glob.glob(str(ROOT / "models" / "*.tar.gz")), key=os.path.getmtime)
    if not models:
        raise RuntimeError("no trained model: run `make train` first")
    return models[-1]


@dataclass
class Servers:
    rasa_url: str
    action_url: str
    processes: List[subprocess.Popen]
    tickets_db_url: str
    trackers_db_url: str = ""
    rest_api_token: str = ""  # REST_API_TOKEN of the Rasa server: `say` sends it
    action_server_token: str = ""  # ACTION_SERVER_TOKEN shared by Rasa and the action server

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def rest_headers(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.rest_api_token}"} if self.rest_api_token else {}

    def say(self, sender: str, message: Any) -> List[Dict[str, Any]]:
        """Send one message over the REST channel; returns the bot's replies."""
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            headers=self.rest_headers(),
            timeout=REQUEST_TIMEOUT,
        )
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        stop(*self.processes)


def start_servers(
    workdir: Path,
    model: Optional[str] = None,
    extra_env: Optional[Dict[str, str]] = None,
    credentials: Optional[Path] = None,
    root: Path = ROOT,
) -> Servers:
    """Action server, then Rasa (REST channel) pointing at it; both on 127.0.0.1.

    Tickets go to a SQLite file in `workdir` unless `extra_env` names another TICKETS_DB_URL.
    `root` is the project folder the servers run from (a scaffolded copy in the scaffold test).
    """
    action_port, rasa_port = free_port(), free_port()
    endpoints = workdir / "endpoints.yml"
    trackers = workdir / "trackers.sqlite3"
    env = dict(
        os.environ,
        SANIC_HOST="127.0.0.1",
        TF_CPP_MIN_LOG_LEVEL="2",
        TICKETS_DB_URL=f"sqlite:///{workdir / 'tickets.sqlite3'}",
    )
    env.pop("TICKET_WEBHOOK_URL", None)
    env.update(extra_env or {})
    endpoints.write_text(
        action_endpoint_yaml(f"http://127.0.0.1:{action_port}/webhook", bool(env.get("ACTION_SERVER_TOKEN")))
        # As endpoints.yml: the masking SQL store (no typed secret is written).
        + f'tracker_store:\n  type: {TRACKER_STORE}\n  dialect: sqlite\n  db: "{trackers}"\n'
    )
    action_log = workdir / "actions.log"
    rasa_log = workdir / "rasa.log"
    actions = start([*ACTION_SERVER, "--actions", "actions", "--port", str(action_port)], root, env, action_log)
    processes = [actions]
    try:
        wait_until(f"http://127.0.0.1:{action_port}/health", actions, action_log, 120)
        rasa = start_rasa_server(root, env, rasa_port, endpoints, rasa_log, model, credentials)
        processes.append(rasa)
        wait_until(f"http://127.0.0.1:{rasa_port}/", rasa, rasa_log, 300)
    except BaseException:
        stop(*processes, grace=0)
        raise
    return Servers(
        f"http://127.0.0.1:{rasa_port}",
        f"http://127.0.0.1:{action_port}",
        processes,
        env["TICKETS_DB_URL"],
        f"sqlite:///{trackers}",
        rest_api_token=env.get("REST_API_TOKEN", ""),
        action_server_token=env.get("ACTION_SERVER_TOKEN", ""),
    )


def action_endpoint_yaml(url: str, with_token: bool) -> str:
    """The endpoints file's action_endpoint; with the token, Rasa sends ACTION_SERVER_TOKEN (as run.sh's copy)."""
    text = f'action_endpoint:\n  url: "{url}"\n'
    if with_token:
        text += "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n"
    return text


# -- several processes: the production profile (endpoints.production.yml, PostgreSQL + Redis) ---------
def start_action_server(root: Path, env: Dict[str, str], port: int, log: Path, workers: int = 1) -> subprocess.Popen:
    """The action server (`tools.serve actions`) on 127.0.0.1:`port` with `workers` Sanic workers."""
    env = dict(env, ACTION_SERVER_SANIC_WORKERS=str(workers))
    return start([*ACTION_SERVER, "--actions", "actions", "--port", str(port)], root, env, log)


def start_rasa_server(
    root: Path,
    env: Dict[str, str],
    port: int,
    endpoints: Path,
    log: Path,
    model: Optional[str] = None,
    credentials: Optional[Path] = None,
) -> subprocess.Popen:
    """`rasa run` (REST and the other channels of credentials.yml) on 127.0.0.1:`port`."""
    return start(
        [
            *RASA,
            "run",
            "--model",
            model or model_path(),
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
            "--credentials",
            str(credentials or root / "credentials.yml"),
            "--endpoints",
            str(endpoints),
        ],
        root,
        env,
        log,
    )


@dataclass
class ServerPool(Servers):
    """One action server and several Rasa servers sharing their stores; `say` picks the Rasa server."""

    rasa_urls: List[str] = None  # type: ignore[assignment]
    logs: List[Path] = None  # type: ignore[assignment]

    def say(self, sender: str, message: Any, via: int = 0) -> List[Dict[str, Any]]:
        """Send one message to Rasa server number `via` (as a load balancer would pick it)."""
        response = requests.post(
            f"{self.rasa_urls[via % len(self.rasa_urls)]}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            headers=self.rest_headers(),
            timeout=REQUEST_TIMEOUT,
        )
        response.raise_for_status()
        return response.json()


def start_server_pool(
    workdir: Path,
    env: Dict[str, str],
    rasa_processes: int = 2,
    action_workers: int = 1,
    endpoints: Optional[Path] = None,
    model: Optional[str] = None,
    root: Path = ROOT,
    credentials: Optional[Path] = None,
) -> ServerPool:
    """An action server, then `rasa_processes` Rasa servers (started together) on free ports.

    `env` is added to this process's environment and must hold what `endpoints` (default: the
    project's endpoints.production.yml) refers to, except ACTION_SERVER_URL, which is set here,
    and ACTION_SERVER_TOKEN, which is made up here unless `env` has one. `credentials`: the Rasa
    servers' channels (default: the project's credentials.yml).
    """
    action_port = free_port()
    rasa_ports = [free_port() for _ in range(rasa_processes)]
    full_env = dict(os.environ, SANIC_HOST="127.0.0.1", TF_CPP_MIN_LOG_LEVEL="2")
    full_env.pop("TICKET_WEBHOOK_URL", None)
    full_env.update(env)
    full_env["ACTION_SERVER_URL"] = f"http://127.0.0.1:{action_port}/webhook"
    if not full_env.get("ACTION_SERVER_TOKEN"):
        full_env["ACTION_SERVER_TOKEN"] = secrets.token_hex(16)  # the production profile requires one
    endpoints = endpoints or root / "endpoints.production.yml"
    logs = [workdir / "actions.log"] + [workdir / f"rasa-{port}.log" for port in rasa_ports]
    processes = [start_action_server(root, full_env, action_port, logs[0], action_workers)]
    try:
        wait_until(f"http://127.0.0.1:{action_port}/health", processes[0], logs[0], 120)
        for port, log in zip(rasa_ports, logs[1:]):
            processes.append(start_rasa_server(root, full_env, port, endpoints, log, model, credentials))
        for port, process, log in zip(rasa_ports, processes[1:], logs[1:]):
            wait_until(f"http://127.0.0.1:{port}/", process, log, 300)
    except BaseException:
        stop(*processes, grace=0)
        raise
    urls = [f"http://127.0.0.1:{port}" for port in rasa_ports]
    return ServerPool(
        urls[0],
        f"http://127.0.0.1:{action_port}",
        processes,
        full_env.get("TICKETS_DB_URL", ""),
        rest_api_token=full_env.get("REST_API_TOKEN", ""),
        action_server_token=full_env["ACTION_SERVER_TOKEN"],
        rasa_urls=urls,
        logs=logs,
    )
