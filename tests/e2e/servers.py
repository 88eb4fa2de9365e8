"""Start the real action server and Rasa server on free local ports for end-to-end tests.

Processes start and stop through tools.processes (the benchmark's too); `free_port` and
`wait_until` are re-exported from there for the tests that import them from here.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import redis
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from channels.rest import CONVERSATION_PREFIX
from tests.local_stores import delete_keys
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
    env: Dict[str, str] = field(default_factory=dict, repr=False)  # the servers' environment
    rasa_log: Optional[Path] = None  # the Rasa server's log file

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
    extra_env: Optional[Dict[str, Optional[str]]] = None,
    credentials: Optional[Path] = None,
    root: Path = ROOT,
) -> Servers:
    """Action server and Rasa (REST channel) pointing at it, started together; both on 127.0.0.1.

    Tickets go to a SQLite file in `workdir` unless `extra_env` names another TICKETS_DB_URL;
    a variable that `extra_env` maps to None is removed from the servers' environment.
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
    for name, value in (extra_env or {}).items():  # None: unset
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    endpoints.write_text(
        action_endpoint_yaml(f"http://127.0.0.1:{action_port}/webhook", bool(env.get("ACTION_SERVER_TOKEN")))
        # As endpoints.yml: the masking SQL store (no typed secret is written).
        + f'tracker_store:\n  type: {TRACKER_STORE}\n  dialect: sqlite\n  db: "{trackers}"\n'
    )
    action_log = workdir / "actions.log"
    rasa_log = workdir / "rasa.log"
    # Both start at once: Rasa needs the action server only when it runs an action.
    actions = start([*ACTION_SERVER, "--actions", "actions", "--port", str(action_port)], root, env, action_log)
    processes = [actions]
    try:
        processes.append(start_rasa_server(root, env, rasa_port, endpoints, rasa_log, model, credentials))
        wait_until(f"http://127.0.0.1:{action_port}/health", actions, action_log, 120)
        wait_until(f"http://127.0.0.1:{rasa_port}/", processes[1], rasa_log, 300)
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
        env=env,
        rasa_log=rasa_log,
    )


# -- one set of servers per distinct configuration, for the whole session -------------------------------
@dataclass(frozen=True)
class Config:
    """What makes one set of servers differ from another: the environment added to this process's
    and the text of credentials.yml (None: the project's). Equal configurations share servers."""

    env: Tuple[Tuple[str, Optional[str]], ...] = ()  # None: the variable is unset
    credentials: Optional[str] = None

    @classmethod
    def of(cls, env: Optional[Dict[str, Optional[str]]] = None, credentials: Optional[str] = None) -> "Config":
        return cls(tuple(sorted((env or {}).items())), credentials)


class SharedServers:
    """Servers started once per distinct `Config` and kept for the whole test session (the
    `shared_servers` fixture of tests/conftest.py), so the modules of tests/e2e and tests/security
    that need the same configuration share one Rasa start. Tests tell their conversations apart by
    sender. Servers found dead (a test stopped them) are started again; all stop at the end."""

    def __init__(self, mktemp: Callable[[str], Path]) -> None:
        self._mktemp = mktemp
        self._running: Dict[Config, Servers] = {}

    def get(self, config: Config) -> Servers:
        running = self._running.get(config)
        if running is not None and running.alive():
            return running
        if running is not None:
            running.stop()
        workdir = self._mktemp("servers")
        credentials = None
        if config.credentials is not None:
            credentials = workdir / "credentials.yml"
            credentials.write_text(config.credentials, encoding="utf-8")
        running = start_servers(workdir, extra_env=dict(config.env), credentials=credentials)
        self._running[config] = running
        return running

    def stop_all(self) -> None:
        for running in self._running.values():
            running.stop()
        self._running.clear()


# The configurations the modules share (each module says which it uses and why).
DINGTALK_SECRET = "e2e-dingtalk-app-secret"
SLACK_SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_BOT_TOKEN = "xoxb-test"
WEBCHAT_JWT_KEY = "webchat-test-secret-0123456789abcdef"
WEBCHAT_PORTAL = "http://portal.test"  # the allowed origin: the intranet portal that embeds the widget
REST_API_TOKEN = "rest-" + secrets.token_hex(16)
ACTION_SERVER_TOKEN = "actions-" + secrets.token_hex(16)
SLACK_ENV = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL")


def channels_config(slack_api_url: str) -> Config:
    """Every channel of the project's credentials.yml configured, no tokens: REST, DingTalk
    (replies to local webhooks), Slack (replies to the fake Web API at `slack_api_url`), web chat
    (anonymous, its own origin)."""
    return Config.of(
        {
            "DINGTALK_APP_SECRET": DINGTALK_SECRET,
            "DINGTALK_WEBHOOK_HOSTS": "127.0.0.1",
            "DINGTALK_ALLOW_HTTP": "1",
            "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
            "SLACK_API_URL": slack_api_url,
        }
    )


def identity_config() -> Config:
    """The web chat requires an identity token (WEBCHAT_JWT_KEY); Slack is not configured (no
    SLACK_* variables: its webhook answers 503); REST without a token."""
    return Config.of({"WEBCHAT_JWT_KEY": WEBCHAT_JWT_KEY, **{name: None for name in SLACK_ENV}})


def tokens_config() -> Config:
    """REST needs REST_API_TOKEN, the action server ACTION_SERVER_TOKEN, and only the portal's
    origin may open the web chat (not the server's own)."""
    return Config.of(
        {
            "REST_API_TOKEN": REST_API_TOKEN,
            "ACTION_SERVER_TOKEN": ACTION_SERVER_TOKEN,
            "WEBCHAT_ALLOWED_ORIGINS": WEBCHAT_PORTAL,
        }
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
    """An action server and `rasa_processes` Rasa servers, all started together, on free ports.

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
        for port, log in zip(rasa_ports, logs[1:]):
            processes.append(start_rasa_server(root, full_env, port, endpoints, log, model, credentials))
        wait_until(f"http://127.0.0.1:{action_port}/health", processes[0], logs[0], 120)
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
        env=full_env,
        rasa_urls=urls,
        logs=logs,
    )


# -- the production profile's stores and servers, shared by tests/e2e and tests/security --------------
PRODUCTION_TEST_POSTGRES_URL = os.environ.get(
    "PRODUCTION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PRODUCTION_TEST_REDIS_URL = os.environ.get("PRODUCTION_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


@dataclass
class Stores:
    env: Dict[str, str]  # what endpoints.production.yml and the action server read
    trackers_url: str
    tickets_url: str
    redis: redis.Redis
    key_prefix: str


@contextlib.contextmanager
def production_stores() -> Iterator[Stores]:
    """A throw-away PostgreSQL database (trackers in `public`, tickets in schema `tickets`) and a
    Redis key prefix of the machine's stores (PRODUCTION_TEST_POSTGRES_URL, PRODUCTION_TEST_REDIS_URL),
    both removed afterwards whatever happens. Fails the test when either store is unreachable."""
    import pytest

    admin_url = make_url(PRODUCTION_TEST_POSTGRES_URL)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"alimail_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as error:
        pytest.fail(f"the production-profile tests need PostgreSQL ({PRODUCTION_TEST_POSTGRES_URL}): {error}")
    key_prefix = f"alimailtest{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(PRODUCTION_TEST_REDIS_URL, socket_connect_timeout=5, socket_timeout=10)
    try:
        trackers_url = admin_url.set(database=name)
        with create_engine(trackers_url).begin() as connection:
            connection.execute(text("CREATE SCHEMA tickets"))
        tickets_url = trackers_url.render_as_string(hide_password=False) + "?options=-csearch_path%3Dtickets"
        try:
            client.ping()
        except redis.RedisError as error:
            pytest.fail(f"the production-profile tests need Redis ({PRODUCTION_TEST_REDIS_URL}): {error}")
        redis_kwargs = client.connection_pool.connection_kwargs
        env = {
            "TRACKER_DB_HOST": trackers_url.host or "127.0.0.1",
            "TRACKER_DB_PORT": str(trackers_url.port or 5432),
            "TRACKER_DB_NAME": name,
            "TRACKER_DB_USER": trackers_url.username or "",
            "TRACKER_DB_PASSWORD": trackers_url.password or "",
            "REDIS_HOST": redis_kwargs.get("host", "127.0.0.1"),
            "REDIS_PORT": str(redis_kwargs.get("port", 6379)),
            "REDIS_DB": str(redis_kwargs.get("db", 1)),
            "REDIS_PASSWORD": redis_kwargs.get("password") or "",
            "REDIS_KEY_PREFIX": key_prefix,
            "TICKETS_DB_URL": tickets_url,
            # The production profile requires it; endpoints.production.yml sends it to the action server.
            "ACTION_SERVER_TOKEN": uuid.uuid4().hex,
        }
        yield Stores(env, trackers_url.render_as_string(hide_password=False), tickets_url, client, key_prefix)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        delete_keys(client, key_prefix)


@contextlib.contextmanager
def production_servers(stores: Stores, workdir: Path, slack_api_url: str) -> Iterator[ServerPool]:
    """The production profile (ALIMAIL_PROFILE=production, endpoints.production.yml, credentials.yml)
    on `stores`: one action server and two Rasa servers, every channel configured as in
    `channels_config` (the web chat signs its session ids with a WEBCHAT_SESSION_SECRET, as the profile
    requires)."""
    env = dict(
        stores.env,
        ALIMAIL_PROFILE="production",
        WEBCHAT_SESSION_SECRET=secrets.token_hex(32),
        **{name: value for name, value in channels_config(slack_api_url).env if value is not None},
    )
    started = time.monotonic()
    running = start_server_pool(workdir, env, rasa_processes=2)
    print(f"\n[production profile] action server + 2 Rasa servers up in {time.monotonic() - started:.1f}s")
    try:
        yield running
    finally:
        running.stop()
