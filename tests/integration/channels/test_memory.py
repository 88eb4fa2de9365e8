"""channels/memory.py's RedisStore against the machine's Redis (127.0.0.1:6379, a throw-away key prefix):
exactly one of several clients gets a key as new, keys expire, values come back, and an unreachable or
silent Redis is a StateUnavailable within the timeout, never a hang."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from typing import Iterator, List

import pytest
import redis

from channels.memory import RedisStore, StateUnavailable, expiring_store, redis_client
from core.settings import Settings
from tests.local_stores import REDIS_HOST, REDIS_PORT, closed_port, delete_keys, require_redis

DB = 1


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test; its keys are deleted afterwards."""
    require_redis()
    name = f"alimailtest{uuid.uuid4().hex[:12]}"
    yield name
    delete_keys(redis.Redis(REDIS_HOST, REDIS_PORT, db=DB, socket_timeout=5), name)


def settings_for(prefix: str, **changes: object) -> Settings:
    values = dict(alimail_profile="production", redis_host=REDIS_HOST, redis_port=REDIS_PORT, redis_db=DB)
    values.update(redis_key_prefix=prefix, **changes)
    return Settings(**values)  # type: ignore[arg-type]


def test_of_several_processes_exactly_one_gets_a_key_as_new(prefix):
    """Eight clients (as eight Rasa processes would have) race for the same 200 keys."""

    async def one_process() -> List[bool]:
        store = expiring_store(settings_for(prefix), "dingtalk:seen", 10, 60)
        try:
            return [await store.add_if_new(f"msg{n}") for n in range(200)]
        finally:
            assert isinstance(store, RedisStore)
            await store.client.close()

    async def race() -> List[List[bool]]:
        return list(await asyncio.gather(*(one_process() for _ in range(8))))

    results = asyncio.run(race())
    assert [sum(result[n] for result in results) for n in range(200)] == [1] * 200
    raw = redis.Redis(REDIS_HOST, REDIS_PORT, db=DB)
    try:
        assert raw.get(f"{prefix}:dingtalk:seen:msg0") == b"1"
        assert 0 < raw.pttl(f"{prefix}:dingtalk:seen:msg0") <= 60_000
    finally:
        raw.close()


def test_values_come_back_and_expire(prefix):
    async def scenario() -> None:
        store = RedisStore(redis_client(settings_for(prefix)), f"{prefix}:choices:", ttl=0.3)
        other = RedisStore(redis_client(settings_for(prefix)), f"{prefix}:choices:", ttl=0.3)
        await store.set('["cid", "staff"]', [["Yes, one of them", "/affirm"], ["No, neither", "/deny"]])
        assert await other.get('["cid", "staff"]') == [["Yes, one of them", "/affirm"], ["No, neither", "/deny"]]
        await other.discard('["cid", "staff"]')
        assert await store.get('["cid", "staff"]') is None
        await store.set("k", {"a": 1})
        assert await store.add_if_new("seen") and not await other.add_if_new("seen")
        await asyncio.sleep(0.5)
        assert await other.get("k") is None and await other.add_if_new("seen")
        await store.client.close()
        await other.client.close()

    asyncio.run(scenario())


def test_a_value_we_did_not_write_reads_as_absent(prefix):
    raw = redis.Redis(REDIS_HOST, REDIS_PORT, db=DB)
    raw.set(f"{prefix}:choices:k", b"\xff not json")
    raw.close()

    async def scenario() -> None:
        store = RedisStore(redis_client(settings_for(prefix)), f"{prefix}:choices:", ttl=60)
        assert await store.get("k") is None
        await store.client.close()

    asyncio.run(scenario())


def test_an_unreachable_redis_is_state_unavailable_at_once():
    async def scenario() -> None:
        store = RedisStore(redis_client(settings_for("x", redis_port=closed_port())), "x:seen:", ttl=60)
        started = time.monotonic()
        with pytest.raises(StateUnavailable, match="Redis refused SET NX: ConnectionError"):
            await store.add_if_new("m1")
        assert time.monotonic() - started < 2.0

    asyncio.run(scenario())


def test_a_redis_that_never_answers_is_state_unavailable_within_the_timeout():
    """A server that accepts the connection and then says nothing (a hung Redis, a black-holing proxy)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: List[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()

    async def scenario() -> None:
        settings = settings_for("x", redis_port=listener.getsockname()[1])
        store = RedisStore(redis_client(settings, timeout=0.5), "x:seen:", ttl=60, timeout=0.5)
        for call in (store.add_if_new("m1"), store.get("k"), store.set("k", 1), store.discard("k")):
            started = time.monotonic()
            with pytest.raises(StateUnavailable):
                await call
            assert time.monotonic() - started < 1.5

    try:
        asyncio.run(scenario())
    finally:
        stop.set()
        thread.join(5)
        for connection in accepted:
            connection.close()
        listener.close()
