"""`GET /ready` of the Rasa server and of the action server: each dependency, checked within a bound.

    Rasa:           {"status": "ready", "checks": {"model": "ok", "action_server": "ok", "tracker_store": "ok",
                                                   "lock_store": "ok", "ticket_store": "ok"}}
    action server:  {"status": "ready", "checks": {"actions": "ok", "ticket_store": "ok"}}

A check is `ok`, `unavailable` (it failed or took longer than READINESS_TIMEOUT), or `unknown`
(Rasa's `ticket_store` when the action server can't be asked). `status` is `ready` when every check is
`ok`, `degraded` when a dependency is not, `starting` while Rasa's model is not loaded.

The HTTP status is 200 once the process can answer (model loaded; the action server's actions
imported), also when degraded, and 503 before that. A degraded process still answers every message,
with the honest "please send it again" when a part is down (README, "When a part fails"); taking
every Rasa server out of a load balancer because their shared Redis is down would turn that answer
into a connection error for every user. Health checks that must wait for full readiness read
`status` (tests/e2e/test_faults.py does).

What the endpoint shows is fixed words only: no host, port, URL, user, error text or timing
(SECURITY.md). Results are kept for `CACHE_SECONDS` and concurrent requests share one round of checks,
so flooding `/ready` does not flood the stores.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Dict, Optional, Tuple
from urllib.parse import urlsplit

from core.readiness import OK, UNAVAILABLE, UNKNOWN, bounded, summary

logger = logging.getLogger(__name__)

RASA_CHECKS = ("model", "action_server", "tracker_store", "lock_store", "ticket_store")
ACTION_SERVER_CHECKS = ("actions", "ticket_store")


def ready_url(action_endpoint_url: str) -> str:
    """The action server's `/ready` from Rasa's action endpoint URL (`http://host:5055/webhook`)."""
    parts = urlsplit(action_endpoint_url)
    return f"{parts.scheme}://{parts.netloc}/ready"


async def action_server_checks(url: Optional[str], timeout: float) -> Tuple[str, str]:
    """(action_server, ticket_store) as Rasa sees them: the action server answers its `/ready`,
    and says whether its ticket store is ok."""
    import aiohttp

    if not url:
        return UNAVAILABLE, UNKNOWN
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.get(ready_url(url)) as response:
                body = await response.json(content_type=None) if response.status in (200, 503) else None
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        logger.warning("readiness: action server unavailable: %s", error.__class__.__name__)
        return UNAVAILABLE, UNKNOWN
    if not isinstance(body, dict) or not isinstance(body.get("checks"), dict):
        return UNAVAILABLE, UNKNOWN
    ticket_store = body["checks"].get("ticket_store")
    return OK, ticket_store if ticket_store in (OK, UNAVAILABLE) else UNKNOWN


def tracker_store_check(tracker_store: Any) -> Callable[[], None]:
    """A blocking check of Rasa's tracker store: `SELECT 1` on an SQL store's own engine."""
    inner = getattr(tracker_store, "_tracker_store", tracker_store)  # Rasa wraps it in FailSafeTrackerStore
    engine = getattr(inner, "engine", None)

    def check() -> None:
        if engine is None:
            return  # in memory: nothing to reach
        import sqlalchemy as sa

        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    return check


def lock_store_check(lock_store: Any) -> Callable[[], None]:
    """A blocking check of Rasa's lock store: PING for Redis."""
    client = getattr(lock_store, "red", None)

    def check() -> None:
        if client is not None:
            client.ping()

    return check


async def rasa_readiness(agent: Any, timeout: float) -> Tuple[int, Dict[str, Any]]:
    """The Rasa server's checks (the agent is `app.ctx.agent`, None until the model is loaded)."""
    serving = bool(agent is not None and agent.is_ready())
    endpoint = getattr(agent, "action_endpoint", None)
    tracker_store = getattr(agent, "tracker_store", None)
    lock_store = getattr(agent, "lock_store", None)
    (action_server, ticket_store), tracker, lock = await asyncio.gather(
        action_server_checks(getattr(endpoint, "url", None), timeout),
        bounded(tracker_store_check(tracker_store), timeout, "tracker store") if tracker_store else _unavailable(),
        bounded(lock_store_check(lock_store), timeout, "lock store") if lock_store else _unavailable(),
    )
    checks = {
        "model": OK if serving else UNAVAILABLE,
        "action_server": action_server,
        "tracker_store": tracker,
        "lock_store": lock,
        "ticket_store": ticket_store,
    }
    return summary(checks, serving)


async def _unavailable() -> str:
    return UNAVAILABLE


def ticket_store_check(database_url: str, timeout: float) -> Callable[[], None]:
    """A blocking check of the ticket database (one connection, `SELECT 1`)."""
    from stores.connectivity import TICKETS_HINTS, check_sql

    def check() -> None:
        check_sql(database_url, "Ticket store", TICKETS_HINTS, timeout)

    return check


async def action_server_readiness(tickets_database_url: str, timeout: float) -> Tuple[int, Dict[str, Any]]:
    """The action server's checks: its actions are loaded (it answers), and its ticket store."""
    ticket_store = await bounded(ticket_store_check(tickets_database_url, timeout), timeout, "ticket store")
    return summary({"actions": OK, "ticket_store": ticket_store}, serving=True)
