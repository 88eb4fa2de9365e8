"""Latency and throughput over the REST channel: messages one at a time, then concurrent users."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import aiohttp
import requests

REQUEST_TIMEOUT = 30.0
MESSAGES_PER_SENDER = 10


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """The q-th percentile (0..100), linear between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(latencies_ms: Sequence[float]) -> Dict[str, Optional[float]]:
    """p50/p95/p99, mean and max of latencies in ms, rounded to 0.1 ms."""

    def rounded(value: Optional[float]) -> Optional[float]:
        return None if value is None else round(value, 1)

    mean = sum(latencies_ms) / len(latencies_ms) if latencies_ms else None
    return {
        "p50_ms": rounded(percentile(latencies_ms, 50)),
        "p95_ms": rounded(percentile(latencies_ms, 95)),
        "p99_ms": rounded(percentile(latencies_ms, 99)),
        "mean_ms": rounded(mean),
        "max_ms": rounded(max(latencies_ms) if latencies_ms else None),
    }


def sender_id(prefix: str, index: int) -> str:
    """A fresh conversation every MESSAGES_PER_SENDER messages."""
    return f"{prefix}-{index // MESSAGES_PER_SENDER}"


def sequential(url: str, messages: Sequence[str], prefix: str) -> Dict[str, Any]:
    """Send the messages one at a time; latency summary, errors and empty answers."""
    latencies: List[float] = []
    errors = empty = 0
    with requests.Session() as session:
        for index, message in enumerate(messages):
            start = time.perf_counter()
            try:
                response = session.post(
                    url, json={"sender": sender_id(prefix, index), "message": message}, timeout=REQUEST_TIMEOUT
                )
                answer = response.json() if response.status_code == 200 else None
            except (requests.RequestException, ValueError):
                answer = None
            elapsed = (time.perf_counter() - start) * 1000
            if answer is None:
                errors += 1
                continue
            latencies.append(elapsed)
            empty += not answer
    return {
        "messages": len(messages),
        "answered": len(latencies),
        "errors": errors,
        "empty_answers": empty,
        **latency_summary(latencies),
    }


@dataclass
class LoadTally:
    """What the simulated users saw."""

    latencies: List[float] = field(default_factory=list)
    errors: Dict[str, int] = field(default_factory=lambda: {"status": 0, "timeout": 0, "connection": 0})
    empty: int = 0


async def _one_request(session: aiohttp.ClientSession, url: str, sender: str, message: str, tally: LoadTally) -> None:
    start = time.perf_counter()
    try:
        async with session.post(url, json={"sender": sender, "message": message}) as response:
            body = await response.read()
            if response.status != 200:
                tally.errors["status"] += 1
                return
    except asyncio.TimeoutError:
        tally.errors["timeout"] += 1
        return
    except aiohttp.ClientError:
        tally.errors["connection"] += 1
        return
    tally.latencies.append((time.perf_counter() - start) * 1000)
    with contextlib.suppress(ValueError):
        tally.empty += not json.loads(body or b"[]")


async def _user(
    session: aiohttp.ClientSession,
    url: str,
    user: int,
    offset: int,
    messages: Sequence[str],
    deadline: float,
    prefix: str,
    tally: LoadTally,
) -> None:
    """One simulated user (from its own offset in the list): the next message as soon as the
    previous answer arrived, a fresh conversation every MESSAGES_PER_SENDER messages."""
    index = 0
    while time.monotonic() < deadline:
        message = messages[(offset + index) % len(messages)]
        await _one_request(session, url, sender_id(f"{prefix}-u{user}", index), message, tally)
        index += 1


async def _concurrency(
    url: str, messages: Sequence[str], users: int, duration: float, prefix: str
) -> Tuple[LoadTally, float]:
    tally = LoadTally()
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=users)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        start = time.monotonic()
        deadline = start + duration
        stride = max(1, len(messages) // users)
        await asyncio.gather(
            *(_user(session, url, u, u * stride, messages, deadline, prefix, tally) for u in range(users))
        )
        return tally, time.monotonic() - start


def concurrency(url: str, messages: Sequence[str], users: int, duration: float, prefix: str) -> Dict[str, Any]:
    """`users` simulated users for `duration` seconds: throughput, latency, errors."""
    tally, elapsed = asyncio.run(_concurrency(url, messages, users, duration, prefix))
    answered = len(tally.latencies)
    summary = latency_summary(tally.latencies)
    return {
        "users": users,
        "duration_s": round(elapsed, 2),
        "answered": answered,
        "throughput_msg_s": round(answered / elapsed, 2) if elapsed > 0 else 0.0,
        "p50_ms": summary["p50_ms"],
        "p95_ms": summary["p95_ms"],
        "p99_ms": summary["p99_ms"],
        "errors": sum(tally.errors.values()),
        "error_kinds": tally.errors,
        "empty_answers": tally.empty,
    }


# One conversation growing long (issue 15): guide messages, an FAQ, thanks, another guide, stop, help.
CONVERSATION = (
    "hi, i forgot my password",
    "yes",
    "next",
    "how many minutes is the verification code valid",
    "next",
    "thanks",
    "2 step verification keeps failing when i log in from abroad",
    "show me all the steps",
    "stop",
    "what can you do",
)
GROWTH_WINDOW = 20


def growth(url: str, turns: int, sender: Optional[str] = None) -> Dict[str, Any]:
    """One conversation of `turns` messages (CONVERSATION, cycled): the median reply at the first and the
    last GROWTH_WINDOW turns, and their ratio (issue 15 asks for <= 1.3)."""
    sender = sender or f"bench-growth-{time.time_ns()}"
    latencies: List[float] = []
    errors = 0
    with requests.Session() as session:
        for index in range(turns):
            start = time.perf_counter()
            try:
                response = session.post(
                    url,
                    json={"sender": sender, "message": CONVERSATION[index % len(CONVERSATION)]},
                    timeout=REQUEST_TIMEOUT,
                )
                ok = response.status_code == 200 and bool(response.json())
            except (requests.RequestException, ValueError):
                ok = False
            errors += not ok
            latencies.append((time.perf_counter() - start) * 1000)
    window = max(1, min(GROWTH_WINDOW, turns // 2))
    first, last = percentile(latencies[:window], 50), percentile(latencies[-window:], 50)
    return {
        "turns": turns,
        "window": window,
        "first_p50_ms": None if first is None else round(first, 1),
        "last_p50_ms": None if last is None else round(last, 1),
        "ratio": round(last / first, 2) if first and last is not None else None,
        "errors": errors,
    }
