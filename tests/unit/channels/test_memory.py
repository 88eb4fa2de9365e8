"""channels/memory.py: the TTL cache's expiry, its bound, and repeated-delivery detection, on an injected clock;
the MemoryStore over it, and which store a profile gets. (RedisStore against the machine's Redis:
tests/integration/channels/test_memory.py.)"""

from __future__ import annotations

import asyncio
import threading
from typing import List

from channels.memory import MemoryStore, RedisStore, TTLCache, expiring_store, redis_client
from core.settings import Settings


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_kept_until_its_ttl_has_passed():
    clock = Clock()
    cache = TTLCache(max_items=10, ttl=60, clock=clock)
    cache.set("k", "v")
    clock.now = 59.999
    assert cache.get("k") == "v" and len(cache) == 1
    clock.now = 60.0
    assert cache.get("k") is None
    assert cache.get("k", "default") == "default" and len(cache) == 0


def test_unknown_keys_give_the_default_and_falsy_values_are_returned_as_set():
    cache = TTLCache(max_items=10, ttl=60, clock=Clock())
    assert cache.get("missing") is None and cache.get("missing", 7) == 7
    cache.set("zero", 0)
    cache.set("empty", "")
    assert cache.get("zero", "default") == 0 and cache.get("empty", "default") == ""


def test_setting_again_renews_the_ttl():
    clock = Clock()
    cache = TTLCache(max_items=10, ttl=60, clock=clock)
    cache.set("k", 1)
    clock.now = 50.0
    cache.set("k", 2)
    clock.now = 100.0  # 100 s after the first set, 50 s after the second
    assert cache.get("k") == 2
    clock.now = 110.0
    assert cache.get("k") is None


def test_the_oldest_entries_are_dropped_beyond_the_bound():
    cache = TTLCache(max_items=3, ttl=60, clock=Clock())
    for key in "abcd":
        cache.set(key, key.upper())
    assert len(cache) == 3
    assert [cache.get(key) for key in "abcd"] == [None, "B", "C", "D"]


def test_setting_a_key_again_makes_it_the_newest_for_the_bound():
    cache = TTLCache(max_items=2, ttl=60, clock=Clock())
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("a", 3)  # now b is the oldest
    cache.set("c", 4)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (3, None, 4)


def test_expired_entries_are_purged_oldest_first_and_the_rest_stays():
    clock = Clock()
    cache = TTLCache(max_items=10, ttl=60, clock=clock)
    cache.set("early", 1)
    clock.now = 30.0
    cache.set("late", 2)
    clock.now = 61.0
    assert len(cache) == 1
    assert (cache.get("early"), cache.get("late")) == (None, 2)


def test_discard_forgets_a_key_and_ignores_unknown_ones():
    cache = TTLCache(max_items=10, ttl=60, clock=Clock())
    cache.set("k", 1)
    cache.discard("k")
    cache.discard("never-set")
    assert cache.get("k") is None and len(cache) == 0


def test_add_if_new_reports_repeats_until_the_key_expires():
    clock = Clock()
    cache = TTLCache(max_items=10, ttl=3600, clock=clock)
    assert cache.add_if_new("event:1") is True
    assert cache.add_if_new("event:1") is False
    assert cache.add_if_new("event:2") is True
    clock.now = 3599.0
    assert cache.add_if_new("event:1") is False  # a repeat does not renew the first delivery
    clock.now = 3600.0
    assert cache.add_if_new("event:1") is True


def test_add_if_new_forgets_the_oldest_key_beyond_the_bound():
    cache = TTLCache(max_items=2, ttl=3600, clock=Clock())
    assert cache.add_if_new("a") and cache.add_if_new("b") and cache.add_if_new("c")
    assert cache.add_if_new("a") is True  # evicted, so new again
    assert cache.add_if_new("c") is False


def test_concurrent_deliveries_of_one_key_are_new_exactly_once():
    cache = TTLCache(max_items=10_000, ttl=3600)
    results: List[bool] = []
    start = threading.Barrier(8)

    def deliver() -> None:
        start.wait()
        results.extend(cache.add_if_new(f"event:{n}") for n in range(500))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 * 500 and results.count(True) == 500


def test_the_memory_store_keeps_json_values_until_their_ttl():
    clock = Clock()
    store = MemoryStore(max_items=10, ttl=60, clock=clock)

    async def scenario() -> None:
        assert await store.add_if_new("m1") and not await store.add_if_new("m1")
        await store.set("choices", [("Yes", "/affirm")])
        assert await store.get("choices") == [["Yes", "/affirm"]]  # as Redis gives it back: JSON
        await store.discard("choices")
        assert await store.get("choices") is None
        await store.set("choices", [("No", "/deny")])
        clock.now = 60.0
        assert await store.get("choices") is None and await store.add_if_new("m1")

    asyncio.run(scenario())


def test_the_production_profile_shares_the_channels_state_in_redis_the_embedded_one_keeps_it_in_memory():
    production = Settings(alimail_profile="production", redis_host="redis.internal", redis_port=6380, redis_db=3)
    store = expiring_store(production, "dingtalk:seen", 10, 3 * 3600)
    assert isinstance(store, RedisStore)
    assert (store.namespace, store.ttl_ms, store.timeout) == ("alimail:dingtalk:seen:", 3 * 3600 * 1000, 2.0)
    kwargs = store.client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == ("redis.internal", 6380, 3, None)
    assert kwargs["socket_timeout"] == 2.0 and kwargs["socket_connect_timeout"] == 2.0
    assert isinstance(expiring_store(Settings(), "dingtalk:seen", 10, 60), MemoryStore)


def test_the_redis_password_is_taken_as_it_is():
    settings = Settings.from_environ({"REDIS_PASSWORD": " p w ", "REDIS_KEY_PREFIX": " pfx "})
    client = redis_client(settings)
    assert client.connection_pool.connection_kwargs["password"] == " p w "
    assert settings.redis_key_prefix == "pfx"
