"""Bounded, expiring memory shared by the channels (repeated deliveries, offered choices).

`TTLCache` is one process's memory. `expiring_store` gives what a channel uses: in the production
profile (ALIMAIL_PROFILE=production) a `RedisStore`, so that every Rasa process behind the load
balancer sees the same repeated deliveries and offered choices; else a `MemoryStore`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Hashable, Optional, Protocol, Tuple

import redis
import redis.asyncio

from core.settings import Settings


class TTLCache:
    """At most `max_items` entries, each forgotten `ttl` seconds after it was last set (oldest first)."""

    def __init__(self, max_items: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_items = max_items
        self.ttl = ttl
        self.clock = clock
        self._items: "OrderedDict[Hashable, Tuple[float, Any]]" = OrderedDict()
        self._lock = threading.RLock()  # Sanic handlers, background tasks and threads may share one

    def _purge(self, now: float) -> None:
        while self._items:
            key, (expires, _) = next(iter(self._items.items()))
            if expires > now and len(self._items) <= self.max_items:
                break
            self._items.popitem(last=False)

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            self._purge(self.clock())
            entry = self._items.get(key)
            return entry[1] if entry else default

    def set(self, key: Hashable, value: Any) -> None:
        with self._lock:
            now = self.clock()
            self._items[key] = (now + self.ttl, value)
            self._items.move_to_end(key)
            self._purge(now)

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)

    def add_if_new(self, key: Hashable) -> bool:
        """Remember `key`; False when it was already remembered (a repeated delivery)."""
        with self._lock:
            if self.get(key) is not None:
                return False
            self.set(key, True)
            return True

    def __len__(self) -> int:
        with self._lock:
            self._purge(self.clock())
            return len(self._items)


# -- what the channels remember: this process's memory, or Redis shared by every process ----------------
REDIS_TIMEOUT = 2.0  # seconds: connecting, and each call as a whole


class StateUnavailable(RuntimeError):
    """The shared store (Redis) did not answer in time or refused the call; the message says why."""


class ExpiringStore(Protocol):
    """Keys remembered for a while (the store's TTL): repeated deliveries, offered choices.

    Keys are strings; values are JSON-able (what `get` returns is what JSON gives back: lists, not tuples).
    """

    async def add_if_new(self, key: str) -> bool:
        """Remember `key`; False when it was already remembered (a repeated delivery)."""

    async def get(self, key: str) -> Any:
        """The value of `key`, None when there is none (or it expired)."""

    async def set(self, key: str, value: Any) -> None:
        """Remember `value` under `key` for the TTL."""

    async def discard(self, key: str) -> None:
        """Forget `key`."""


class MemoryStore:
    """An ExpiringStore in this process's memory (a TTLCache): the embedded profile's, one process."""

    def __init__(self, max_items: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.cache = TTLCache(max_items, ttl, clock)

    async def add_if_new(self, key: str) -> bool:
        return self.cache.add_if_new(key)

    async def get(self, key: str) -> Any:
        return self.cache.get(key)

    async def set(self, key: str, value: Any) -> None:
        # As Redis would give it back, so both stores behave alike.
        self.cache.set(key, json.loads(json.dumps(value)))

    async def discard(self, key: str) -> None:
        self.cache.discard(key)

    def __len__(self) -> int:
        return len(self.cache)


class RedisStore:
    """An ExpiringStore in Redis, shared by every process: key `<namespace><key>` with the TTL, value as JSON.

    `add_if_new` is one `SET key 1 NX PX ttl`, so of several processes given the same key exactly one
    gets True. Every call is bounded by `timeout` seconds; a timeout or Redis error raises StateUnavailable.
    """

    def __init__(self, client: "redis.asyncio.Redis", namespace: str, ttl: float, timeout: float = REDIS_TIMEOUT):
        self.client = client
        self.namespace = namespace
        self.ttl_ms = max(1, int(ttl * 1000))
        self.timeout = timeout

    def key(self, key: str) -> str:
        return self.namespace + key

    async def _call(self, what: str, call: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(call, self.timeout)
        except asyncio.TimeoutError:
            raise StateUnavailable(f"Redis did not answer {what} within {self.timeout:g}s") from None
        except (redis.RedisError, OSError) as error:
            raise StateUnavailable(f"Redis refused {what}: {type(error).__name__}") from None

    async def add_if_new(self, key: str) -> bool:
        return bool(await self._call("SET NX", self.client.set(self.key(key), b"1", nx=True, px=self.ttl_ms)))

    async def get(self, key: str) -> Any:
        raw = await self._call("GET", self.client.get(self.key(key)))
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None  # not written by us: as if absent

    async def set(self, key: str, value: Any) -> None:
        await self._call("SET", self.client.set(self.key(key), json.dumps(value), px=self.ttl_ms))

    async def discard(self, key: str) -> None:
        await self._call("DEL", self.client.delete(self.key(key)))


def redis_client(settings: Settings, timeout: float = REDIS_TIMEOUT) -> "redis.asyncio.Redis":
    """A Redis client for REDIS_HOST/PORT/DB/PASSWORD; it connects on its first call (within `timeout`)."""
    return redis.asyncio.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        db=settings.redis_db,
        password=settings.redis_password or None,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )


def expiring_store(
    settings: Settings,
    namespace: str,
    max_items: int,
    ttl: float,
    client: "Optional[redis.asyncio.Redis]" = None,
) -> ExpiringStore:
    """Where a channel keeps `namespace` (e.g. "dingtalk:seen"): in the production profile Redis, under
    `REDIS_KEY_PREFIX:namespace:`, so every Rasa process sees the same; else this process's memory."""
    if settings.alimail_profile != "production":
        return MemoryStore(max_items, ttl)
    return RedisStore(client or redis_client(settings), f"{settings.redis_key_prefix}:{namespace}:", ttl)
