"""tools/readiness.py: Rasa's `GET /ready` reports each dependency in fixed words, within READINESS_TIMEOUT,
and reuses one round of checks for concurrent and repeated requests."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, Tuple

import pytest
import rasa.core.run
from rasa.core.agent import Agent
from rasa.core.lock_store import RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.utils.endpoints import EndpointConfig

from tests.asgi_client import AsgiClient
from tests.fake_http import RecordingServer
from tests.local_stores import closed_port
from tools import rasa_patches, readiness


@pytest.fixture(scope="module", autouse=True)
def patched() -> None:
    rasa_patches.apply()


def get_ready(agent: Any) -> Tuple[int, Dict[str, Any], bytes]:
    async def scenario() -> Tuple[int, Dict[str, Any], bytes]:
        app = rasa.core.run.configure_app(enable_api=False)
        app.ctx.agent = agent
        async with AsgiClient(app) as client:
            status, _, body = await client.request("GET", "/ready", b"", {})
            return status, json.loads(body), body

    return asyncio.run(scenario())


def test_before_the_model_is_loaded_rasa_is_starting():
    status, body, _ = get_ready(None)
    assert status == 503
    assert body == {
        "status": "starting",
        "checks": {
            "model": "unavailable",
            "action_server": "unavailable",
            "tracker_store": "unavailable",
            "lock_store": "unavailable",
            "ticket_store": "unknown",
        },
    }


def test_each_dependency_is_checked_and_nothing_about_it_is_shown(tmp_path):
    action_server = RecordingServer(
        lambda record: (200, {"status": "degraded", "checks": {"ticket_store": "unavailable"}})
    )
    redis_port = closed_port()
    try:
        agent = Agent(
            tracker_store=SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "trackers.sqlite3")),
            lock_store=RedisLockStore(host="127.0.0.1", port=redis_port, password="r3dis-pa55", socket_timeout=1),
            action_endpoint=EndpointConfig(f"{action_server.url}/webhook", headers={"Authorization": "Bearer t0ken"}),
        )
        status, body, raw = get_ready(agent)
        assert [record["path"] for record in action_server.snapshot()] == ["/ready"]
    finally:
        action_server.close()
    assert status == 503  # no processor: the model is not loaded
    assert body["checks"] == {
        "model": "unavailable",
        "action_server": "ok",
        "tracker_store": "ok",
        "lock_store": "unavailable",
        "ticket_store": "unavailable",
    }
    for detail in (str(redis_port), str(action_server.port), "127.0.0.1", "r3dis-pa55", "t0ken", "sqlite", "refused"):
        assert detail.encode() not in raw


def test_an_action_server_that_answers_nonsense_is_unavailable():
    for responder in (lambda r: (200, ["a", "list"]), lambda r: (500, {"checks": {}}), lambda r: (200, "<html>")):
        server = RecordingServer(responder)
        try:
            assert asyncio.run(readiness.action_server_checks(f"{server.url}/webhook", 2)) == ("unavailable", "unknown")
        finally:
            server.close()


def test_ready_url_is_the_action_servers_own_root():
    assert readiness.ready_url("http://actions:5055/webhook") == "http://actions:5055/ready"
    assert readiness.ready_url("https://10.0.0.2:8443/some/prefix/webhook?x=1") == "https://10.0.0.2:8443/ready"
