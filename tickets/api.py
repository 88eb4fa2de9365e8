"""HTTP API for helpdesk integration: list, read and update tickets (Sanic 21.12).

Run as `python -m tickets.api [--host 127.0.0.1] [--port 5056] [--db-url URL]`. Every /tickets
request needs `Authorization: Bearer $TICKETS_API_TOKEN`; without that variable the API refuses
them all (503). `GET /health` needs no token and returns no data.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hmac
import itertools
import json
import logging
from typing import Any, Awaitable, Callable, Coroutine, Dict, Optional, Sequence, TypeVar

from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from core.settings import SettingsError, get_settings
from tickets.store import QUEUES, STATUSES, InvalidChange, StoreUnavailable, TicketNotFound, TicketStore

logger = logging.getLogger(__name__)

TOKEN_ENV = "TICKETS_API_TOKEN"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5056
MAX_BODY_BYTES = 64 * 1024
MAX_NAME_LENGTH = 128  # the width of the author and assignee columns
PATCH_FIELDS = ("status", "assignee", "comment", "author")

_app_numbers = itertools.count(1)
T = TypeVar("T")


class BadRequest(Exception):
    """The request is malformed or carries unknown fields / invalid values (HTTP 400)."""


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def reply(data: Any, status: int = 200, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
    """A JSON response that caches and proxies must not keep (tickets carry personal data)."""
    all_headers = {"Cache-Control": "no-store"}
    all_headers.update(headers or {})
    return json_response(data, status=status, headers=all_headers, dumps=_dumps)


def error(status: int, message: str, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
    return reply({"error": message}, status=status, headers=headers)


def bearer_token(request: Request) -> Optional[str]:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_matches(given: Optional[str], expected: str) -> bool:
    """Constant-time comparison (as bytes, so any characters are accepted)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def parse_patch(body: bytes) -> Dict[str, str]:
    """The validated PATCH body: a JSON object of known, non-empty string fields."""
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    unknown = sorted(set(data) - set(PATCH_FIELDS))
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(PATCH_FIELDS)}")
    changes: Dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(f"{key} must be a non-empty string")
        changes[key] = value.strip()
    if not any(key in changes for key in ("status", "assignee", "comment")):
        raise BadRequest("nothing to change: give status, assignee and/or comment")
    if "status" in changes and changes["status"] not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    for key in ("assignee", "author"):
        if len(changes.get(key, "")) > MAX_NAME_LENGTH:
            raise BadRequest(f"{key} must be at most {MAX_NAME_LENGTH} characters")
    return changes


def _filter(request: Request, name: str, allowed: Sequence[str]) -> Optional[str]:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}")
    return value


def create_app(store: TicketStore, token: Optional[str], name: Optional[str] = None) -> Sanic:
    """The Sanic app serving `store`; with no (or an empty) `token`, /tickets answers 503."""
    app = Sanic(name or f"tickets_api_{next(_app_numbers)}")
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.config.FALLBACK_ERROR_FORMAT = "json"
    expected = (token or "").strip()

    async def in_thread(call: Callable[..., T], *args: Any) -> T:
        # SQLAlchemy calls block; keep them off the event loop.
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(call, *args))

    def guarded(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Coroutine[Any, Any, HTTPResponse]]:
        """Token check, then the handler, with store errors mapped to JSON status codes."""

        @functools.wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            if not expected:
                return error(503, f"the ticket API is disabled until {TOKEN_ENV} is set")
            if not token_matches(bearer_token(request), expected):
                return error(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
            try:
                return await handler(request, *args, **kwargs)
            except BadRequest as problem:
                return error(400, str(problem))
            except TicketNotFound:
                return error(404, "ticket not found")
            except InvalidChange as problem:
                return error(409, str(problem))
            except StoreUnavailable as problem:
                logger.error("ticket database unavailable: %s", problem)
                return error(503, "ticket database unavailable")

        return wrapper

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return reply({"status": "ok"})

    @app.get("/tickets")
    @guarded
    async def list_tickets(request: Request) -> HTTPResponse:
        queue = _filter(request, "queue", QUEUES)
        status = _filter(request, "status", STATUSES)
        found = await in_thread(store.list, queue, status)
        items = []
        for ticket in found:
            data = ticket.to_dict()
            data.pop("transcript", None)
            items.append(data)
        return reply(items)

    @app.get("/tickets/<ticket_id>")
    @guarded
    async def get_ticket(request: Request, ticket_id: str) -> HTTPResponse:
        ticket = await in_thread(store.get, ticket_id)
        return reply(ticket.to_dict())

    @app.patch("/tickets/<ticket_id>")
    @guarded
    async def patch_ticket(request: Request, ticket_id: str) -> HTTPResponse:
        changes = parse_patch(request.body)
        author = changes.get("author", "api")
        # Applied in this order (each raises TicketNotFound for an unknown id); a refused
        # status change leaves the rest undone.
        ticket = None
        if "status" in changes:
            ticket = await in_thread(store.set_status, ticket_id, changes["status"], author)
        if "assignee" in changes:
            ticket = await in_thread(store.assign, ticket_id, changes["assignee"], author)
        if "comment" in changes:
            ticket = await in_thread(store.comment, ticket_id, changes["comment"], author)
        assert ticket is not None  # parse_patch demands at least one change
        return reply(ticket.to_dict())

    @app.exception(Exception)
    async def on_error(request: Request, exception: Exception) -> HTTPResponse:
        """Every other failure as a short JSON error, never a stack trace."""
        if isinstance(exception, SanicException):
            status = getattr(exception, "status_code", 500) or 500
            message = str(exception) if status < 500 else "internal server error"
            return error(status, message or "request failed")
        logger.exception(
            "unhandled error in %s %s", request.method if request else "?", request.path if request else "?"
        )
        return error(500, "internal server error")

    return app


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Serve the API until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tickets.api", description="Ticket API for helpdesk tools.")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--db-url",
        default=None,
        metavar="URL",
        help="ticket database (default: TICKETS_DB_URL, else as in the README's Settings table)",
    )
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("tickets")  # Sanic configures its own loggers
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)
    try:
        token = get_settings().tickets_api_token or ""
    except SettingsError as error:
        parser.error(str(error))
    if not token:
        logger.warning("%s is not set: every /tickets request is refused (503)", TOKEN_ENV)
    elif len(token) < 16:
        logger.warning("%s is short; use a long random value", TOKEN_ENV)
    try:
        store = TicketStore(args.db_url)
    except Exception as problem:  # malformed URL or missing driver
        parser.error(f"cannot use --db-url: {problem}")
    app = create_app(store, token)
    app.run(host=args.host, port=args.port, debug=False, access_log=True, motd=False)


if __name__ == "__main__":
    main()
