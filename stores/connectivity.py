"""Can the conversation stores be reached? One connection attempt each, with a timeout.

Shared by the strict Rasa stores (`stores.rasa_stores`, used from `endpoints.production.yml`)
and the start-up preflight (`tools/check_stores.py`), so both refuse with the same message,
e.g. "Tracker store PostgreSQL at 127.0.0.1:5999 (database alimail, user postgres) is
unreachable: connection refused. Start it or fix TRACKER_DB_HOST / TRACKER_DB_PORT."

Only SQLAlchemy, psycopg2 and redis are imported here (no Rasa), so the check is quick.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional, Union

from core.settings import parse_bool

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DEFAULT_TIMEOUT_SECONDS = 5.0

TRACKER_HINTS = {
    "network": "Start it or fix TRACKER_DB_HOST / TRACKER_DB_PORT.",
    "auth": "Fix TRACKER_DB_USER / TRACKER_DB_PASSWORD.",
    "database": "Create it (createdb -h {host} -p {port} -U {user} {db}) or fix TRACKER_DB_NAME.",
}
TICKETS_HINTS = {
    "network": "Start it or fix TICKETS_DB_URL.",
    "auth": "Fix the user or password in TICKETS_DB_URL.",
    "database": "Create the database or fix TICKETS_DB_URL.",
}
REDIS_HINTS = {
    "network": "Start it or fix REDIS_HOST / REDIS_PORT.",
    "auth": "Fix REDIS_PASSWORD.",
    "database": "Fix REDIS_DB (the server's `databases` setting limits it).",
}


class StoreUnreachable(RuntimeError):
    """A configured store cannot be used; the message says which, why, and what to change."""


def flag(value: object) -> bool:
    """YAML booleans, or the strings an environment variable gives, read by the settings' one boolean
    parser (1/true/yes/on, 0/false/no/off; anything else is a ValueError); empty is false."""
    if isinstance(value, str):
        return parse_bool(value) if value.strip() else False
    return bool(value)


def _reason(error: BaseException) -> str:
    """The driver's error in a few words: 'connection refused', 'timed out', ..."""
    text = " ".join(str(error).split())
    lowered = text.lower()
    for needle, reason in (
        ("connection refused", "connection refused"),
        ("timeout expired", "timed out"),
        ("timed out", "timed out"),
        ("could not translate host name", "unknown host"),
        ("name or service not known", "unknown host"),
        ("temporary failure in name resolution", "unknown host"),
        ("no route to host", "no route to host"),
        ("network is unreachable", "network is unreachable"),
    ):
        if needle in lowered:
            return reason
    # psycopg2 prefixes its messages with the connection target; keep the last meaningful line.
    text = re.sub(r"^\([\w.]+\)\s*", "", text)
    text = re.sub(r"\(Background on this error at: [^)]*\)", "", text)
    text = re.sub(r'connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed:\s*', "", text)
    text = re.sub(r"^(FATAL|ERROR):\s*", "", text.strip()).strip().rstrip(".?!")
    return text[:300] or error.__class__.__name__


def _kind(error: BaseException) -> str:
    """'auth' (login refused), 'database' (no such database / db index) or 'network'."""
    lowered = f"{error.__class__.__name__} {error}".lower()
    if any(
        needle in lowered for needle in ("authentication", "password", "noauth", "wrongpass", "invalid username")
    ) or ("role" in lowered and "does not exist" in lowered):
        return "auth"
    if ("database" in lowered and "does not exist" in lowered) or "db index" in lowered:
        return "database"
    return "network"


def _where(host: Optional[str], port: Optional[Union[int, str]]) -> str:
    return f"{host or 'localhost'}:{port}" if port else (host or "localhost")


def check_sql(url: Union[str, URL], what: str, hints: dict, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
    """Connect once to the SQLAlchemy `url` (str or URL) and run SELECT 1; StoreUnreachable otherwise."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        label = f"{what} SQLite file {parsed.database or ':memory:'}"
    else:
        name = {"postgresql": "PostgreSQL", "mysql": "MySQL"}.get(backend, backend)
        label = (
            f"{what} {name} at {_where(parsed.host, parsed.port)} "
            f"(database {parsed.database}, user {parsed.username or 'default'})"
        )
    connect_args = {}
    if backend in ("postgresql", "mysql"):
        connect_args["connect_timeout"] = max(1, int(round(timeout)))
    engine = sa.create_engine(parsed, connect_args=connect_args, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:  # any driver error means "not usable"
        kind = _kind(error)
        verb = {"auth": "refused the login", "database": "has no such database"}.get(kind, "is unreachable")
        hint = hints.get(kind, "").format(
            db=parsed.database,
            host=parsed.host or "localhost",
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
        )
        raise StoreUnreachable(f"{label} {verb}: {_reason(error)}. {hint}".strip()) from error
    finally:
        engine.dispose()


def check_redis(
    host: Optional[str] = None,
    port: Union[int, str, None] = 6379,
    db: Union[int, str, None] = 0,
    username: Optional[str] = None,
    password: Optional[str] = None,
    use_ssl: bool = False,
    what: str = "Lock store",
    hints: Optional[dict] = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> None:
    """PING the Redis server (after AUTH and SELECT db); StoreUnreachable otherwise."""
    import redis

    hints = REDIS_HINTS if hints is None else hints
    label = f"{what} Redis at {_where(host, port)} (db {db})"
    client = redis.Redis(
        host=host or "localhost",
        port=int(port or 6379),
        db=int(db or 0),
        username=username or None,
        password=password or None,
        ssl=flag(use_ssl),
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
    )
    try:
        client.ping()
    except Exception as error:
        kind = _kind(error)
        verb = {"auth": "refused the login", "database": "refused the database"}.get(kind, "is unreachable")
        raise StoreUnreachable(f"{label} {verb}: {_reason(error)}. {hints.get(kind, '')}".strip()) from error
    finally:
        client.close()
