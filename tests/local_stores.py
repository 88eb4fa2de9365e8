"""The machine's stores for integration tests: PostgreSQL 127.0.0.1:5432 (trust auth, database `test`)
and Redis 127.0.0.1:6379, and a local port where nothing listens.

    from tests.local_stores import POSTGRES_URL, closed_port, require_postgres, require_redis
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DB, POSTGRES_USER = "127.0.0.1", 5432, "test", "postgres"
POSTGRES_URL = f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DB}"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_postgres() -> None:
    """Fails the test (these tests need it; they are not skipped) when PostgreSQL can't be used."""
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3}, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is needed: {error}", pytrace=False)
    finally:
        engine.dispose()


def require_redis() -> None:
    """Fails the test when Redis can't be reached."""
    import redis

    client = redis.Redis(REDIS_HOST, REDIS_PORT, socket_connect_timeout=3)
    try:
        client.ping()
    except Exception as error:
        pytest.fail(f"Redis at {REDIS_HOST}:{REDIS_PORT} is needed: {error}", pytrace=False)
    finally:
        client.close()


def delete_keys(client: Any, prefix: str) -> None:
    """Delete the keys under `prefix:` a test wrote to the shared Redis, then close `client`."""
    try:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
