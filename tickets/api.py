"""HTTP API for helpdesk integration: list, read and update tickets (Sanic 21.12).

Run as `python -m tickets.api [--host HOST] [--port 5056] [--db-url URL]`; the host defaults to
TICKETS_API_HOST (127.0.0.1), never Rasa's. Every /tickets request needs `Authorization: Bearer
<token>` with one of the named staff tokens of TICKETS_API_TOKENS (`name:token,…`; the deprecated
TICKETS_API_TOKEN counts as the name `staff`); without any token the API refuses them all (503).
The token's name is the author of every change made with it: an `author` in the body is ignored.
A PATCH is applied in one transaction. `GET /health` needs no token and returns no data.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import logging
from typing import Any, Awaitable, Callable, Coroutine, Dict, Optional, Sequence, Tuple, TypeVar, Union

from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from core.bearer import bearer_token, token_matches
from core.readiness import CachedChecks, bounded, summary
from core.settings import LEGACY_TICKETS_API_TOKEN_NAME, SettingsError, get_settings
from tickets.store import (
    MAX_COMMENT,
    QUEUES,
    STATUSES,
    InvalidChange,
    StoreUnavailable,
    TicketNotFound,
    TicketStore,
)

logger = logging.getLogger(__name__)

TOKENS_ENV = "TICKETS_API_TOKENS"
TOKEN_ENV = "TICKETS_API_TOKEN"  # deprecated: one token, named LEGACY_TICKETS_API_TOKEN_NAME
DEFAULT_PORT = 5056
MAX_BODY_BYTES = 64 * 1024
MAX_NAME_LENGTH = 128  # the width of the author and assignee columns
CHANGE_FIELDS = ("status", "assignee", "comment")
# `author` is accepted for older clients and ignored: the author is the token's name.
PATCH_FIELDS = CHANGE_FIELDS + ("author",)
Credentials = Sequence[Tuple[str, str]]  # (name, token)

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


def token_name(given: Optional[str], credentials: Credentials) -> Optional[str]:
    """The name of the token `given` is, else None; every token is compared, in constant time."""
    found = None
    for name, token in credentials:
        if token_matches(given, token) and found is None:
            found = name
    return found


def parse_patch(body: bytes) -> Dict[str, str]:
    """The validated changes of a PATCH body: a JSON object of known, non-empty string fields.
    A client's `author` is dropped (whatever its value): the token decides who changes a ticket."""
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    unknown = sorted(set(data) - set(PATCH_FIELDS))
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(CHANGE_FIELDS)}")
    changes: Dict[str, str] = {}
    for key in CHANGE_FIELDS:
        if key not in data:
            continue
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(f"{key} must be a non-empty string")
        if "\x00" in value:
            raise BadRequest(f"{key} must not contain NUL characters")
        changes[key] = value.strip()
    if not changes:
        raise BadRequest("nothing to change: give status, assignee and/or comment")
    if "status" in changes and changes["status"] not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    if len(changes.get("assignee", "")) > MAX_NAME_LENGTH:
        raise BadRequest(f"assignee must be at most {MAX_NAME_LENGTH} characters")
    if len(changes.get("comment", "")) > MAX_COMMENT:
        raise BadRequest(f"comment must be at most {MAX_COMMENT} characters")
    return changes


def _filter(request: Request, name: str, allowed: Sequence[str]) -> Optional[str]:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}")
    return value


def create_app(
    store: TicketStore,
    tokens: Union[None, str, Credentials],
    name: Optional[str] = None,
    readiness_timeout: float = 1.0,
) -> Sanic:
    """The Sanic app serving `store` to the holders of `tokens`: (name, token) pairs, or one token
    (named `staff`). With no non-empty token, /tickets answers 503. `GET /ready` (no token, fixed words
    only, core/readiness.py) says whether the ticket database answers within `readiness_timeout`."""
    app = Sanic(name or f"tickets_api_{next(_app_numbers)}")
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.config.FALLBACK_ERROR_FORMAT = "json"
    pairs = [(LEGACY_TICKETS_API_TOKEN_NAME, tokens)] if isinstance(tokens, str) else list(tokens or ())
    credentials = [(who, token.strip()) for who, token in pairs if token.strip()]

    async def in_thread(call: Callable[..., T], *args: Any) -> T:
        # SQLAlchemy calls block; keep them off the event loop.
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(call, *args))

    def guarded(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Coroutine[Any, Any, HTTPResponse]]:
        """Token check, then the handler, with store errors mapped to JSON status codes."""

        @functools.wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            if not credentials:
                return error(503, f"the ticket API is disabled until {TOKENS_ENV} (or {TOKEN_ENV}) is set")
            staff = token_name(bearer_token(request.headers.get("authorization")), credentials)
            if staff is None:
                return error(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
            request.ctx.staff = staff  # the author of any change this request makes
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

    async def readiness() -> Tuple[int, Dict[str, Any]]:
        return summary({"ticket_store": await bounded(store.ping, readiness_timeout, "ticket store")}, serving=True)

    checks = CachedChecks(readiness)

    @app.get("/ready")
    async def ready(request: Request) -> HTTPResponse:
        status, body = await checks.get()
        return reply(body, status)

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
        author = request.ctx.staff
        # One transaction: all of the changes or none (a refused status change leaves the rest undone).
        ticket = await in_thread(functools.partial(store.update, ticket_id, author, **changes))
        logger.info("%s changed by %s: %s", ticket.id, author, ", ".join(changes))
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
    parser.add_argument("--host", default=None, help="default: TICKETS_API_HOST (127.0.0.1)")
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
        settings = get_settings()
    except SettingsError as error:
        parser.error(str(error))
    credentials = settings.tickets_api_credentials()
    if not credentials:
        logger.warning("neither %s nor %s is set: every /tickets request is refused (503)", TOKENS_ENV, TOKEN_ENV)
    if settings.tickets_api_token:
        logger.warning(
            "%s is deprecated: its changes are signed %r; use %s=name:token,… so each names its author",
            TOKEN_ENV,
            LEGACY_TICKETS_API_TOKEN_NAME,
            TOKENS_ENV,
        )
    for who, token in credentials:
        if len(token) < 16:
            logger.warning("the ticket API token of %r is short; use a long random value", who)
    try:
        store = TicketStore(args.db_url)
    except Exception as problem:  # malformed URL or missing driver
        parser.error(f"cannot use --db-url: {problem}")
    app = create_app(store, credentials, readiness_timeout=settings.readiness_timeout)
    host = args.host or settings.tickets_api_host
    app.run(host=host, port=args.port, debug=False, access_log=True, motd=False)


if __name__ == "__main__":
    main()
