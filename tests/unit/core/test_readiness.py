"""core/readiness.py: a check that hangs is cut off at its bound, and concurrent and repeated requests
share one round of checks."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, Tuple

from core import readiness


def test_the_summary_is_ready_only_when_every_check_is_ok_and_starting_before_the_process_serves():
    assert readiness.summary({"a": "ok", "b": "ok"}, serving=True) == (
        200,
        {"status": "ready", "checks": {"a": "ok", "b": "ok"}},
    )
    assert readiness.summary({"a": "ok", "b": "unavailable"}, serving=True)[1]["status"] == "degraded"
    assert readiness.summary({"a": "ok"}, serving=False) == (503, {"status": "starting", "checks": {"a": "ok"}})


def test_a_failing_check_is_unavailable_and_says_nothing_about_why():
    def broken() -> None:
        raise OSError("connection refused to db.internal:5432 as postgres")

    assert asyncio.run(readiness.bounded(broken, 1.0, "store")) == "unavailable"
    assert asyncio.run(readiness.bounded(lambda: None, 1.0, "store")) == "ok"


def test_a_hanging_check_is_cut_off_at_the_timeout():
    async def scenario() -> float:
        started = time.monotonic()
        assert await readiness.bounded(lambda: time.sleep(2), 0.3, "slow store") == "unavailable"
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 1.5  # (asyncio.run itself then waits for the thread to end)


def test_concurrent_and_repeated_requests_share_one_round_of_checks():
    rounds = []

    async def run() -> Tuple[int, Dict[str, Any]]:
        rounds.append(1)
        await asyncio.sleep(0.05)
        return 200, {"status": "ready", "checks": {}}

    async def scenario() -> None:
        cached = readiness.CachedChecks(run, ttl=0.5)
        await asyncio.gather(*(cached.get() for _ in range(50)))
        assert len(rounds) == 1
        await asyncio.sleep(0.6)
        await cached.get()
        assert len(rounds) == 2

    asyncio.run(scenario())
