"""Faults never mean silence, a wrong answer or a lost message (issue 17; README "When a part fails").

The production profile (endpoints.production.yml: PostgreSQL trackers, Redis locks) on servers this
test starts itself, on free ports, in a temporary folder: its own redis-server and its own PostgreSQL
cluster (initdb, pg_ctl), never the machine's. Tickets go to a SQLite file, so the three parts under
test are the only ones that fail (the ticket database being down has its own answer, tested elsewhere).

Twenty conversations are in flight all the time (each worker starts a new one when its conversation
ends) while the action server, then Redis, then PostgreSQL are stopped and started again. Every
message must get either the turn's real answer or the honest "please send it again" (then it is sent
again); no 5xx, no empty reply, no answer from an empty conversation (the expected answer of each turn
depends on the turns before). Afterwards every conversation is in PostgreSQL exactly as answered, in
order, without the abandoned messages; every confirmed ticket exists exactly once; and after each part
returns, Rasa's `/ready` says `ready` again within 30 s. The figures are printed (README, "Measured figures").
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import redis
import requests
from sqlalchemy import create_engine, text

from core.phrases import say
from tests.e2e.servers import (
    ROOT,
    channels_config,
    conversation_id,
    free_port,
    start_action_server,
    start_rasa_server,
)
from tests.e2e.test_dingtalk import Chat, FakeWebhook
from tests.e2e.test_production_profile import BUTTONS, TICKET, expected_turns
from tests.e2e.test_rest_conversations import button_payload
from tests.e2e.test_slack import FakeSlackApi, message_event, post_json
from tests.e2e.test_slack import conversation as slack_conversation
from tests.e2e.test_slack import text_of as slack_text
from tests.socketio_client import Client
from tickets.store import TicketStore
from tools.processes import stop, wait_until

CONVERSATIONS = 20
DOWN_SECONDS = 4.0  # how long each part stays down
RECOVERY_LIMIT = 30.0  # seconds from a part's return to Rasa's /ready saying "ready"
RETRY_PAUSE = 0.5  # a user told to resend waits this long
MAX_ATTEMPTS = 120  # per message: a message still refused after this is counted as lost
REQUEST_TIMEOUT = 60
# The conversation's language; in both when neither the message nor a readable tracker says which.
RETRY = {say("part_unavailable", "en"), say("part_unavailable", "en") + "\n" + say("part_unavailable", "zh")}


# -- servers of our own --------------------------------------------------------------------------------
def _as_postgres_user(command: List[str]) -> List[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` account then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class OwnPostgres:
    """A throw-away PostgreSQL cluster on a free port (trust authentication, 127.0.0.1 only)."""

    def __init__(self, folder: Path) -> None:
        self.data = folder / "pgdata"
        self.port = free_port()
        self.log = folder / "postgres.log"
        if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
            pytest.fail("the fault test needs PostgreSQL's initdb and pg_ctl on the PATH", pytrace=False)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        subprocess.run(
            _as_postgres_user(["initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data}"
        subprocess.run(
            _as_postgres_user(["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"]),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def stop(self) -> None:
        subprocess.run(
            _as_postgres_user(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            timeout=60,
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


class OwnRedis:
    """A redis-server on a free port, without persistence."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("the fault test needs redis-server on the PATH", pytrace=False)
        self.folder, self.port = folder, free_port()
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


@dataclass
class Deployment:
    folder: Path
    env: Dict[str, str]
    postgres: OwnPostgres
    redis: OwnRedis
    action_port: int
    rasa_url: str
    tickets_url: str
    slack: FakeSlackApi
    dingtalk: FakeWebhook
    processes: Dict[str, subprocess.Popen] = field(default_factory=dict)

    def start_actions(self) -> None:
        log = self.folder / "actions.log"
        self.processes["actions"] = start_action_server(ROOT, self.env, self.action_port, log)
        wait_until(f"http://127.0.0.1:{self.action_port}/health", self.processes["actions"], log, 120)

    def stop_actions(self) -> None:
        stop(self.processes.pop("actions"), grace=0)

    def ready(self) -> Dict[str, Any]:
        response = requests.get(f"{self.rasa_url}/ready", timeout=10)
        return response.json()


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    folder = Path(tempfile.mkdtemp(prefix="alimail-faults-"))
    folder.chmod(0o755)
    postgres, own_redis = OwnPostgres(folder), OwnRedis(folder)
    processes: List[Any] = []
    slack, dingtalk = FakeSlackApi(), FakeWebhook()  # where the asynchronous channels reply
    try:
        postgres.start()
        own_redis.start()
        action_port, rasa_port = free_port(), free_port()
        env = dict(
            os.environ,
            SANIC_HOST="127.0.0.1",
            TF_CPP_MIN_LOG_LEVEL="2",
            TRACKER_DB_HOST="127.0.0.1",
            TRACKER_DB_PORT=str(postgres.port),
            TRACKER_DB_NAME="postgres",
            TRACKER_DB_USER="postgres",
            TRACKER_DB_PASSWORD="",
            REDIS_HOST="127.0.0.1",
            REDIS_PORT=str(own_redis.port),
            REDIS_DB="1",
            REDIS_PASSWORD="",
            REDIS_KEY_PREFIX="alimailfaults",
            ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
            ACTION_SERVER_TOKEN=uuid.uuid4().hex,
            TICKETS_DB_URL=f"sqlite:///{folder / 'tickets.sqlite3'}",
        )
        env.pop("TICKET_WEBHOOK_URL", None)
        env.update({name: value for name, value in channels_config(slack.url).env if value is not None})
        deployment = Deployment(
            folder,
            env,
            postgres,
            own_redis,
            action_port,
            f"http://127.0.0.1:{rasa_port}",
            env["TICKETS_DB_URL"],
            slack,
            dingtalk,
        )
        started = time.monotonic()
        deployment.start_actions()
        log = folder / "rasa.log"
        rasa = start_rasa_server(ROOT, env, rasa_port, ROOT / "endpoints.production.yml", log)
        deployment.processes["rasa"] = rasa
        wait_until(f"{deployment.rasa_url}/", rasa, log, 300)
        print(f"\n[faults] own PostgreSQL, Redis, action server and Rasa up in {time.monotonic() - started:.1f}s")
        yield deployment
        processes = list(deployment.processes.values())
    finally:
        stop(*processes, grace=0)
        own_redis.stop()
        postgres.stop()
        slack.stop()
        dingtalk.stop()
        shutil.rmtree(folder, ignore_errors=True)


# -- users -----------------------------------------------------------------------------------------------
@dataclass
class Figures:
    sent: int = 0
    answered: int = 0
    told_to_retry: int = 0
    problems: List[str] = field(default_factory=list)  # a 5xx, an empty or wrong reply, a lost message
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def problem(self, what: str) -> None:
        with self.lock:
            self.problems.append(what)


@dataclass
class Conversation:
    sender: str
    email: str
    sent: List[str] = field(default_factory=list)  # the messages that got their real answer
    replies: List[str] = field(default_factory=list)
    ticket_id: Optional[str] = None


def converse(deployment: Deployment, sender: str, email: str, figures: Figures) -> Conversation:
    """One user through the whole script; a message the bot asks to resend is sent again."""
    conversation = Conversation(sender, email)
    replies: List[Dict[str, Any]] = []
    for turn, (message, expected) in enumerate(expected_turns(email)):
        if message in BUTTONS:
            message = button_payload(replies, message)
        for _ in range(MAX_ATTEMPTS):
            figures.add(sent=1)
            try:
                response = requests.post(
                    f"{deployment.rasa_url}/webhooks/rest/webhook",
                    json={"sender": sender, "message": message},
                    timeout=REQUEST_TIMEOUT,
                )
            except requests.RequestException as error:
                figures.problem(f"{sender} turn {turn}: no HTTP answer ({error.__class__.__name__})")
                return conversation
            if response.status_code != 200:
                figures.problem(f"{sender} turn {turn}: HTTP {response.status_code}")
                return conversation
            replies = response.json()
            texts = [reply.get("text") or "" for reply in replies]
            if len(texts) == 1 and texts[0] in RETRY:
                figures.add(told_to_retry=1)
                time.sleep(RETRY_PAUSE)
                continue
            if len(texts) == len(expected) and all(piece in t for piece, t in zip(expected, texts)):
                figures.add(answered=1)
                conversation.sent.append(message)
                conversation.replies.extend(texts)
                break
            figures.problem(f"{sender} turn {turn} ({message!r}): expected {expected}, got {texts}")
            return conversation
        else:
            figures.problem(f"{sender} turn {turn}: still refused after {MAX_ATTEMPTS} attempts (lost)")
            return conversation
    match = TICKET.search(conversation.replies[-1])
    conversation.ticket_id = match.group(1) if match else None
    return conversation


def wait_ready(deployment: Deployment, since: float) -> float:
    """Seconds from `since` until Rasa's /ready says every dependency is ok (fails after RECOVERY_LIMIT)."""
    while True:
        try:
            body = deployment.ready()
        except (requests.RequestException, ValueError):
            body = {}
        if body.get("status") == "ready":
            return time.monotonic() - since
        assert time.monotonic() - since < RECOVERY_LIMIT, (
            f"not ready {RECOVERY_LIMIT:.0f}s after the part returned: {body}"
        )
        time.sleep(0.25)


def test_twenty_conversations_through_action_server_redis_and_postgres_faults(deployment: Deployment) -> None:
    assert deployment.ready()["status"] == "ready"
    run = uuid.uuid4().hex[:6]
    figures = Figures()
    faults_over = threading.Event()
    conversations: List[Conversation] = []
    recoveries: Dict[str, float] = {}
    degraded: Dict[str, Dict[str, Any]] = {}

    def user(worker: int) -> None:
        number = 0
        while not faults_over.is_set() and not figures.problems:
            sender = f"faults-{run}-{worker:02d}-{number}"
            conversations.append(converse(deployment, sender, f"user{worker:02d}.{number}@corp.example", figures))
            number += 1

    async_replies: Dict[str, str] = {}

    def async_channels_while_redis_is_down() -> None:
        """Slack and DingTalk keep their record of answered events in the same Redis: acknowledged, not
        handled, and the user asked to resend."""
        user = slack_conversation()
        answer = post_json(
            f"{deployment.rasa_url}/webhooks/slack/webhook",
            message_event(user["channel"], user["user"], "my account is locked"),
        )
        assert answer.status_code == 200, answer.text
        async_replies["slack"] = slack_text(deployment.slack.wait_for(user["channel"], bool)).strip()
        chat = Chat(SimpleNamespace(rasa_url=deployment.rasa_url), deployment.dingtalk)  # type: ignore[arg-type]
        async_replies["dingtalk"] = chat.say("my account is locked")["markdown"]["text"]

    def fault(name: str, take_down: Callable[[], None], bring_back: Callable[[], None], during=None) -> None:
        take_down()
        time.sleep(DOWN_SECONDS / 2)
        degraded[name] = deployment.ready()  # /ready names the part that is down
        if during is not None:
            during()
        time.sleep(DOWN_SECONDS / 2)
        bring_back()
        recoveries[name] = wait_ready(deployment, time.monotonic())

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CONVERSATIONS) as executor:
        users = [executor.submit(user, worker) for worker in range(CONVERSATIONS)]
        try:
            time.sleep(3)  # every user mid-conversation
            fault("action server", deployment.stop_actions, deployment.start_actions)
            fault("Redis", deployment.redis.stop, deployment.redis.start, async_channels_while_redis_is_down)
            fault("PostgreSQL", deployment.postgres.stop, deployment.postgres.start)
        finally:
            faults_over.set()
        for future in users:
            future.result()
    seconds = time.monotonic() - started
    lost = figures.sent - figures.answered - figures.told_to_retry
    print(
        f"\n[faults] {len(conversations)} conversations ({CONVERSATIONS} in flight) in {seconds:.1f}s: "
        f"messages sent {figures.sent}, answered {figures.answered}, told to retry {figures.told_to_retry}, "
        f"lost: {lost}; ready again after " + ", ".join(f"{name} {value:.1f}s" for name, value in recoveries.items())
    )
    assert not figures.problems, figures.problems[:10]
    assert lost == 0
    assert figures.told_to_retry > 0  # the faults did hit messages in flight
    assert degraded["action server"]["checks"]["action_server"] == "unavailable"
    assert degraded["Redis"]["checks"]["lock_store"] == "unavailable"
    assert degraded["PostgreSQL"]["checks"]["tracker_store"] == "unavailable"
    assert all(body["status"] == "degraded" for body in degraded.values())
    assert async_replies == {"slack": say("part_unavailable", "en"), "dingtalk": say("part_unavailable", "en")}
    assert all(process.poll() is None for process in deployment.processes.values())

    # PostgreSQL holds every conversation exactly as answered: in order, nothing twice, nothing abandoned.
    engine = create_engine(deployment.postgres.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT sender_id, type_name, data FROM events WHERE sender_id LIKE :like ORDER BY id"),
                {"like": f"rest:faults-{run}-%"},
            ).all()
    finally:
        engine.dispose()
    stored: Dict[str, List[str]] = {}
    for sender, kind, data in rows:
        if kind == "user":
            stored.setdefault(sender, []).append(json.loads(data).get("text") or "")
    for conversation in conversations:
        assert stored.get(conversation_id(conversation.sender), []) == conversation.sent, conversation.sender

    # Every ticket confirmed to a user exists exactly once, and no conversation has a second one.
    store = TicketStore(deployment.tickets_url)
    try:
        for conversation in conversations:  # every conversation ran to its confirmed ticket
            tickets = store.list_for_sender(conversation_id(conversation.sender), "rest")
            assert conversation.ticket_id and [t.id for t in tickets] == [conversation.ticket_id], (
                conversation.sender,
                [t.id for t in tickets],
            )
        assert len(store.list(limit=10000)) == len(conversations)
    finally:
        store.engine.dispose()
    for name, seconds_to_ready in recoveries.items():
        assert seconds_to_ready < RECOVERY_LIMIT, name


def test_slack_dingtalk_and_web_chat_users_get_the_honest_message_too(deployment: Deployment) -> None:
    """The asynchronous channels answer after acknowledging: with the action server down, each still
    sends the user the phrase, on its own way back (Slack's Web API, DingTalk's sessionWebhook, socket.io)."""
    deployment.stop_actions()
    try:
        # Slack: the event is acknowledged at once, the reply is posted through the Web API.
        user = slack_conversation()
        answer = post_json(
            f"{deployment.rasa_url}/webhooks/slack/webhook",
            message_event(user["channel"], user["user"], "I forgot my password"),
        )
        assert answer.status_code == 200, answer.text
        posts = deployment.slack.wait_for(user["channel"], lambda posts: bool(posts))
        assert slack_text(posts).strip() in RETRY, slack_text(posts)
        # DingTalk: acknowledged, then the reply goes to the message's sessionWebhook (in Chinese here).
        chat = Chat(SimpleNamespace(rasa_url=deployment.rasa_url), deployment.dingtalk)  # type: ignore[arg-type]
        reply = chat.say("我忘记密码了")
        assert say("part_unavailable", "zh") in json.dumps(reply, ensure_ascii=False), reply

        # Web chat: the phrase arrives as a bot message on the socket.
        async def web_chat() -> str:
            client = Client(deployment.rasa_url, deployment.rasa_url, "websocket")
            await client.connect()
            try:
                session_id = await client.session(None)
                await client.say("I forgot my password", session_id)
                return await client.reply_with("Please send it again")
            finally:
                await client.close()

        assert asyncio.run(web_chat()) in RETRY
    finally:
        deployment.start_actions()
    wait_ready(deployment, time.monotonic())
