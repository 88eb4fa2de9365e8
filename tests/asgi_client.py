"""Drive a Sanic app in-process through its ASGI interface (sanic-testing is not installed).

    async with AsgiClient(app) as client:
        status, headers, body = await client.request("POST", "/webhooks/slack/webhook", body=b"{}")

`AsgiClient` sends the ASGI lifespan startup first (Sanic finalizes its router then), so the
app's real routes, blueprints and handlers answer; no socket is opened.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from sanic import Sanic

Response = Tuple[int, Dict[str, str], bytes]

# As sanic-testing does: several apps may start in one process. Without it the second app's
# start-up fails, because Sanic rewrites some of its class's methods at the first start-up.
Sanic.test_mode = True


class AsgiClient:
    """Requests to a Sanic app's ASGI callable, within the running event loop."""

    def __init__(self, app: Sanic) -> None:
        self.app = app
        self._lifespan_events: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self._lifespan_sent: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self._lifespan_task: "Optional[asyncio.Task[None]]" = None

    async def __aenter__(self) -> "AsgiClient":
        # Sanic's lifespan handler takes startup and shutdown in one call, so it runs as a task.
        self._lifespan_task = asyncio.create_task(self._run_lifespan())
        await self._lifespan_step("startup")
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._lifespan_step("shutdown")
        assert self._lifespan_task is not None
        await self._lifespan_task

    async def _run_lifespan(self) -> None:
        async def send(message: Dict[str, Any]) -> None:
            await self._lifespan_sent.put(message)

        try:
            await self.app({"type": "lifespan", "asgi": {"version": "3.0"}}, self._lifespan_events.get, send)
        except AttributeError:
            # Sanic 21.12 goes on to handle a request that a lifespan scope does not have.
            pass

    async def _lifespan_step(self, stage: str) -> None:
        await self._lifespan_events.put({"type": f"lifespan.{stage}"})
        message = await asyncio.wait_for(self._lifespan_sent.get(), 10)
        if message["type"] != f"lifespan.{stage}.complete":
            raise RuntimeError(f"the app did not complete its lifespan {stage}: {message}")

    async def request(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: Optional[Mapping[str, str]] = None,
        timeout: float = 10.0,
    ) -> Response:
        """(status, headers with lower-case names, body) of one request; `target` may carry a query."""
        parts = urlsplit(target)
        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
        if body:
            raw_headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(),
            "root_path": "",
            "headers": raw_headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        messages: List[Dict[str, Any]] = []

        async def receive() -> Dict[str, Any]:
            if pending:
                return pending.pop(0)
            await asyncio.Event().wait()  # the client never disconnects first
            raise AssertionError("unreachable")

        async def send(message: Dict[str, Any]) -> None:
            messages.append(message)

        await asyncio.wait_for(self.app(scope, receive, send), timeout)
        start = next(m for m in messages if m["type"] == "http.response.start")
        response_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]}
        content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        return int(start["status"]), response_headers, content
