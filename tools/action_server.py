"""The action server: rasa_sdk's app with the shared secret checked on every call.

    python -m tools.serve actions --actions actions --port 5055 [--host 127.0.0.1]

The options are rasa_sdk's own (`--actions`, `--port`, `--cors`, SSL, logging) plus `--host`
(default 127.0.0.1; rasa_sdk's own default, SANIC_HOST or 0.0.0.0, is not used). With
ACTION_SERVER_TOKEN set every request except `GET /health` needs `Authorization: Bearer <token>`
(constant-time compare), else 401; Rasa sends it from the endpoints file's
`action_endpoint.headers`. Without the token the server starts only on a loopback host and never
in the production profile (`startup_problem`). Workers: rasa-sdk's ACTION_SERVER_SANIC_WORKERS.
Starting rasa_sdk directly would skip the token check: tests/unit/test_deploy_files.py sees
that nothing in the project does.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, List, Optional

from sanic import Sanic, response
from sanic.exceptions import MethodNotSupported, NotFound, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from core.bearer import authorized
from core.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
OPEN_PATHS = ("/health", "/ready")  # the health checks of run.sh, docker-compose and Kubernetes (tools/readiness.py)
PRODUCTION_NEEDS_ACTION_TOKEN = (
    "ACTION_SERVER_TOKEN is unset. The production profile requires it: Rasa sends it on every action call "
    "and the action server refuses calls without it. Give Rasa and the action server the same long random "
    "value (e.g. `openssl rand -hex 32`; SECURITY.md)."
)


def is_loopback(host: str) -> bool:
    """Whether a server bound to `host` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name, or empty (every interface): counts as exposed


def startup_problem(settings: Settings, host: str) -> Optional[str]:
    """Why the action server must not start on `host` with these settings, or None."""
    if settings.action_server_token:
        return None
    if settings.alimail_profile == "production":
        return PRODUCTION_NEEDS_ACTION_TOKEN
    if not is_loopback(host):
        return (
            f"the action server would accept any caller on {host}: set ACTION_SERVER_TOKEN (Rasa then "
            "sends it on every call; SECURITY.md) or serve it on 127.0.0.1 (ACTION_HOST)."
        )
    return None


def token_middleware(token: str) -> Callable[[Request], Awaitable[Optional[HTTPResponse]]]:
    """A Sanic request middleware: 401 unless the request carries the bearer `token` (`/health` stays open)."""

    async def require_token(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS or authorized(request.headers.get("authorization"), token):
            return None
        return response.json(
            {"error": "missing or invalid bearer token"}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )

    return require_token


async def _client_error(_: Request, error: SanicException) -> HTTPResponse:
    """A request for a route or method the server does not have: its own status, nothing echoed."""
    return response.json(
        {"error": "not found" if isinstance(error, NotFound) else "method not allowed"}, status=error.status_code
    )


def create_app(actions: str, token: Optional[str], cors: Any = None, auto_reload: bool = False) -> Sanic:
    """rasa_sdk's app for the `actions` package, with the token check when `token` is set."""
    from rasa_sdk.endpoint import create_app as sdk_create_app

    app = sdk_create_app(actions, cors_origins=cors, auto_reload=auto_reload)
    # rasa_sdk answers every exception with 500, also a wrong method or path: those are 405 and 404.
    app.exception(MethodNotSupported, NotFound)(_client_error)
    if token:
        app.register_middleware(token_middleware(token), "request")
    return app


def add_ready_route(app: Sanic, settings: Settings) -> None:
    """`GET /ready`: the actions are loaded, and whether the ticket store answers (tools/readiness.py)."""
    from core.readiness import CachedChecks
    from tools.readiness import action_server_readiness

    checks = CachedChecks(lambda: action_server_readiness(settings.tickets_database_url(), settings.readiness_timeout))

    @app.get("/ready")
    async def ready(_: Request) -> HTTPResponse:
        status, body = await checks.get()
        return response.json(body, status=status, headers={"Cache-Control": "no-store"})


def add_ticket_worker(app: Sanic) -> None:
    """With a helpdesk backend (TICKET_BACKEND) and TICKET_OUTBOX_WORKER, each action-server process runs
    the outbox's delivery worker in a background thread from its start (README, Ticket backends)."""

    @app.after_server_start
    async def start_ticket_worker(*_: Any) -> None:
        from actions.ticket_actions import ticket_desk

        try:
            ticket_desk()  # builds the desk and starts its worker
        except Exception as error:  # the database or a setting: the actions report it on use
            logger.error("ticket delivery worker not started: %s", error)


def argument_parser() -> argparse.ArgumentParser:
    """rasa_sdk's options, and --host."""
    from rasa_sdk.endpoint import create_argument_parser

    parser = create_argument_parser()
    parser.prog = "python -m tools.serve actions"
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to serve on (default {DEFAULT_HOST})")
    return parser


def main(argv: List[str], settings: Settings) -> None:
    """Start the action server as rasa_sdk's `run` does; SystemExit with the reason when it must not start."""
    from rasa_sdk import utils
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
    from rasa_sdk.endpoint import create_ssl_context
    from rasa_sdk.plugin import plugin_manager

    args = argument_parser().parse_args(argv)
    problem = startup_problem(settings, args.host)
    if problem:
        raise SystemExit(f"Not starting the action server: {problem}")

    # As rasa_sdk.__main__.main_from_args, then rasa_sdk.endpoint.run with our app and host.
    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel, args.logging_config_file
    )
    utils.update_sanic_log_level()
    app = create_app(args.actions, settings.action_server_token, args.cors, args.auto_reload)
    if settings.turn_profile_file:  # make profile: time each call (tools/turn_profile.py)
        from tools import turn_profile

        turn_profile.install_action_server(app, Path(f"{settings.turn_profile_file}.actions"))
    add_ready_route(app, settings)
    add_ticket_worker(app)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    ssl_context = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    protocol = "https" if ssl_context else "http"
    checked = "every call needs ACTION_SERVER_TOKEN" if settings.action_server_token else "no token: loopback only"
    logger.info(f"Action server on {protocol}://{args.host}:{args.port} ({checked})")
    app.run(args.host, args.port, ssl=ssl_context, workers=utils.number_of_sanic_workers())
