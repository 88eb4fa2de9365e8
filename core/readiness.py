"""What every role's `GET /ready` shares (the Rasa server and the action server: tools/readiness.py; the
ticket API: tickets/api.py): each dependency checked within a bound, the summary, and results reused
for a moment so that flooding the endpoint does not flood the stores.

A check is `ok`, `unavailable` (it failed or took longer than READINESS_TIMEOUT), or `unknown`.
`status` is `ready` when every check is `ok`, `degraded` when one is not, `starting` while the process
cannot answer yet (HTTP 503; else 200). Only these fixed words are shown: no host, URL, error or timing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional, Tuple

logger = logging.getLogger("readiness")

OK, UNAVAILABLE, UNKNOWN = "ok", "unavailable", "unknown"
READY, DEGRADED, STARTING = "ready", "degraded", "starting"
CACHE_SECONDS = 1.0


def summary(checks: Mapping[str, str], serving: bool) -> Tuple[int, Dict[str, Any]]:
    """(HTTP status, body) for these checks; `serving`: the process can answer messages."""
    if not serving:
        status = STARTING
    else:
        status = READY if all(value == OK for value in checks.values()) else DEGRADED
    return (200 if serving else 503), {"status": status, "checks": dict(checks)}


async def bounded(check: Callable[[], Any], timeout: float, what: str) -> str:
    """Run the blocking `check` in a thread: `ok` if it returns within `timeout` seconds, else `unavailable`.
    The reason goes to the log only."""
    try:
        await asyncio.wait_for(asyncio.to_thread(check), timeout)
        return OK
    except asyncio.TimeoutError:
        logger.warning("readiness: %s did not answer within %.1fs", what, timeout)
    except Exception as error:  # any failure means "not usable"; the endpoint never shows why
        logger.warning("readiness: %s unavailable: %s", what, error.__class__.__name__)
    return UNAVAILABLE


class CachedChecks:
    """One round of checks at a time, its result reused for `ttl` seconds."""

    def __init__(self, run: Callable[[], Awaitable[Tuple[int, Dict[str, Any]]]], ttl: float = CACHE_SECONDS) -> None:
        self.run, self.ttl = run, ttl
        self._result: Optional[Tuple[int, Dict[str, Any]]] = None
        self._at = 0.0
        self._lock: Optional[asyncio.Lock] = None

    async def get(self) -> Tuple[int, Dict[str, Any]]:
        if self._lock is None:
            self._lock = asyncio.Lock()  # created in the server's event loop
        async with self._lock:
            if self._result is None or time.monotonic() - self._at >= self.ttl:
                self._result = await self.run()
                self._at = time.monotonic()
            return self._result
