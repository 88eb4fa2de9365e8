"""Bounded, expiring memory shared by the channels (repeated deliveries, offered choices)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Hashable, Tuple


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
