"""Preflight: can every store the endpoints file and TICKETS_DB_URL name be reached? Exit 1 if not.

    python tools/check_stores.py --endpoints endpoints.production.yml --require-shared

Reads the endpoints file the way Rasa does (same ${VAR} substitution), then connects once,
with a timeout, to the tracker store database, the Redis lock store and the ticket database,
and prints one line per store. Every problem is reported (not only the first), e.g.

    Tracker store PostgreSQL at 127.0.0.1:5999 (database alimail, user postgres) is unreachable:
    connection refused. Start it or fix TRACKER_DB_HOST / TRACKER_DB_PORT.

Exit codes: 0 all reachable, 1 a store is unreachable or misconfigured, 2 the endpoints file
can't be read (missing file, unset environment variable, quoted ${VAR}) or a setting is invalid.
`scripts/run.sh` runs it before starting anything in the production profile, and the
container entrypoint (deploy/docker-entrypoint.sh) before every server. The stores in
`stores/strict.py` make the same check inside Rasa, for any other way of starting it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from core.settings import SettingsError, get_settings, process_environment
from stores.connectivity import (
    REDIS_HINTS,
    TICKETS_HINTS,
    TRACKER_HINTS,
    StoreUnreachable,
    check_redis,
    check_sql,
)

VARIABLE = re.compile(r"\$\{([^}]*)\}")
QUOTED_VARIABLE = re.compile(r"""["'][^"'\n]*\$\{[^}]*\}[^"'\n]*["']""")


def variables_in(text: str) -> List[str]:
    """The ${NAME} references of an endpoints file, comments left out, in order of appearance."""
    names: List[str] = []
    for line in text.splitlines():
        for name in VARIABLE.findall(_strip_comment(line)):
            if name not in names:
                names.append(name)
    return names


def _strip_comment(line: str) -> str:
    """A YAML line without its trailing comment (a '#' after whitespace, outside quotes)."""
    quote: Optional[str] = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


def endpoint_file_problems(text: str, environ: Dict[str, str]) -> List[str]:
    """Unset variables and quoted ${VAR}s (Rasa only substitutes unquoted values) in an endpoints file."""
    problems = []
    for line_number, line in enumerate(text.splitlines(), 1):
        code = _strip_comment(line)
        if QUOTED_VARIABLE.search(code):
            problems.append(
                f"line {line_number}: {code.strip()!r} is quoted, and Rasa substitutes ${{VAR}} only in "
                f"unquoted values; remove the quotes"
            )
    missing = [name for name in variables_in(text) if name not in environ]
    if missing:
        problems.append(
            f"environment variable(s) {', '.join(missing)} unset; Rasa refuses to start without "
            f"them (scripts/run.sh sets defaults for the production profile; see the README)"
        )
    return problems


def _none_if_empty(value: Any) -> Any:
    return None if value == "" else value


def sql_url_of(config: Any) -> Any:
    """The SQLAlchemy URL Rasa's SQL tracker store (and stores.strict) builds from the endpoint config."""
    from rasa.core.tracker_store import SQLTrackerStore, validate_port

    kwargs = config.kwargs
    return SQLTrackerStore.get_db_url(
        kwargs.get("dialect", "sqlite"),
        _none_if_empty(config.url),
        validate_port(_none_if_empty(kwargs.get("port"))),
        kwargs.get("db", "rasa.db"),
        _none_if_empty(kwargs.get("username")),
        _none_if_empty(kwargs.get("password")),
        _none_if_empty(kwargs.get("login_db")),
        kwargs.get("query"),
    )


def _store_class(type_name: str) -> Tuple[Optional[type], Optional[str]]:
    from rasa.shared.utils.common import class_from_module_path

    try:
        return class_from_module_path(type_name), None
    except Exception as error:  # ImportError, AttributeError, RasaException
        return None, f"{error.__class__.__name__}: {error}"


def check_tracker_store(config: Any, require_shared: bool, timeout: float) -> Tuple[Optional[str], str]:
    """(problem or None, description) for the tracker_store section."""
    from rasa.core.tracker_store import RedisTrackerStore, SQLTrackerStore

    kind = (config.type or "").lower() if config is not None else ""
    if not kind:
        problem = (
            (
                "Tracker store: none configured, so each Rasa process keeps conversations in its own memory; "
                "configure tracker_store in the endpoints file"
            )
            if require_shared
            else None
        )
        return problem, "Tracker store: in memory"
    store_class: Optional[type] = None
    if kind == "sql":
        store_class = SQLTrackerStore
    elif kind == "redis":
        store_class = RedisTrackerStore
    elif kind in ("mongod", "dynamo"):
        return None, f"Tracker store: {config.type} (not checked here)"
    else:
        store_class, error = _store_class(config.type)
        if store_class is None:
            return (
                f"Tracker store class {config.type!r} can't be loaded ({error}); Rasa would silently use "
                f"the in-memory tracker store instead"
            ), ""
    try:
        if issubclass(store_class, SQLTrackerStore):
            url = sql_url_of(config)
            check_sql(url, "Tracker store", TRACKER_HINTS, timeout)
            return None, f"Tracker store: {_describe_sql(url)}"
        if issubclass(store_class, RedisTrackerStore):
            kwargs = config.kwargs
            check_redis(
                _none_if_empty(config.url),
                kwargs.get("port") or 6379,
                kwargs.get("db") or 0,
                _none_if_empty(kwargs.get("username")),
                _none_if_empty(kwargs.get("password")),
                kwargs.get("use_ssl", False),
                "Tracker store",
                REDIS_HINTS,
                timeout,
            )
            return None, f"Tracker store: Redis at {config.url}:{kwargs.get('port') or 6379}"
    except StoreUnreachable as error:
        return str(error), ""
    return None, f"Tracker store: {config.type} (not checked here)"


def check_lock_store(config: Any, require_shared: bool, timeout: float) -> Tuple[Optional[str], str]:
    from rasa.core.lock_store import RedisLockStore

    kind = (config.type or "") if config is not None else ""
    if not kind or kind == "in_memory":
        problem = (
            (
                "Lock store: none configured (in memory), so two Rasa processes could handle the same "
                "conversation at once; configure a redis lock_store"
            )
            if require_shared
            else None
        )
        return problem, "Lock store: in memory"
    if kind == "redis":
        store_class: type = RedisLockStore
    else:
        loaded, error = _store_class(kind)
        if loaded is None:
            return f"Lock store class {kind!r} can't be loaded ({error})", ""
        store_class = loaded
    if not issubclass(store_class, RedisLockStore):
        return None, f"Lock store: {kind} (not checked here)"
    kwargs = config.kwargs
    prefix = kwargs.get("key_prefix")
    if prefix not in (None, "") and not str(prefix).isalnum():
        return (
            f"Lock store key prefix {prefix!r} must be letters and digits only (Rasa would silently use "
            f"its default prefix). Fix REDIS_KEY_PREFIX."
        ), ""
    port, db = kwargs.get("port") or 6379, kwargs.get("db") or 1
    try:
        check_redis(
            _none_if_empty(config.url),
            port,
            db,
            _none_if_empty(kwargs.get("username")),
            _none_if_empty(kwargs.get("password")),
            kwargs.get("use_ssl", False),
            "Lock store",
            REDIS_HINTS,
            timeout,
        )
    except StoreUnreachable as error:
        return str(error), ""
    return None, f"Lock store: Redis at {config.url or 'localhost'}:{port} (db {db}, key prefix {prefix or 'none'})"


def check_tickets(url: str, timeout: float) -> Tuple[Optional[str], str]:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # The ticket store creates the file and its folder on first use (tickets/store.py); so does this.
        try:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # reported by the connection attempt below
    try:
        check_sql(url, "Ticket database", TICKETS_HINTS, timeout)
    except StoreUnreachable as error:
        return str(error), ""
    return None, f"Ticket database: {_describe_sql(url)}"


def _describe_sql(url: Any) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database}"
    return f"{parsed.get_backend_name()} at {parsed.host}:{parsed.port or ''} (database {parsed.database})"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"check_stores: {error}", file=sys.stderr)
        return 2
    parser.add_argument("--endpoints", default="endpoints.production.yml", help="the endpoints file Rasa will use")
    parser.add_argument(
        "--tickets-db-url",
        default=None,
        help="ticket database URL (default: TICKETS_DB_URL, else as in the README's Settings table)",
    )
    parser.add_argument("--no-tickets", action="store_true", help="don't check the ticket database")
    parser.add_argument(
        "--tickets-only",
        action="store_true",
        help="check only the ticket database (the action server and ticket API use nothing else)",
    )
    parser.add_argument(
        "--require-shared",
        action="store_true",
        help="fail when the tracker or lock store is in memory (several processes need shared ones)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=settings.store_check_timeout,
        help="seconds per connection attempt (default 5, or STORE_CHECK_TIMEOUT)",
    )
    args = parser.parse_args(argv)

    if args.tickets_only:
        problem, description = check_tickets(args.tickets_db_url or settings.tickets_database_url(), args.timeout)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        print(f"ok  {description}")
        return 0

    path = Path(args.endpoints)
    if not path.is_file():
        print(f"check_stores: endpoints file {path} not found", file=sys.stderr)
        return 2
    problems = endpoint_file_problems(path.read_text(encoding="utf-8"), process_environment())
    if problems:
        for problem in problems:
            print(f"check_stores: {path}: {problem}", file=sys.stderr)
        return 2

    from rasa.core.utils import AvailableEndpoints

    try:
        endpoints = AvailableEndpoints.read_endpoints(str(path))
    except Exception as error:  # RasaException for a bad value, YAML errors
        print(f"check_stores: {path} can't be read: {error}", file=sys.stderr)
        return 2

    results = [
        check_tracker_store(endpoints.tracker_store, args.require_shared, args.timeout),
        check_lock_store(endpoints.lock_store, args.require_shared, args.timeout),
    ]
    if not args.no_tickets:
        results.append(check_tickets(args.tickets_db_url or settings.tickets_database_url(), args.timeout))
    failed = False
    for problem, description in results:
        if problem:
            failed = True
            print(problem, file=sys.stderr)
        else:
            print(f"ok  {description}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
