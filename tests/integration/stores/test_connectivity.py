"""stores/connectivity.py against the machine's PostgreSQL and Redis, and a port where nothing listens:
one line per failure naming the store, what went wrong and what to change."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from stores.connectivity import (
    REDIS_HINTS,
    TICKETS_HINTS,
    TRACKER_HINTS,
    StoreUnreachable,
    check_redis,
    check_sql,
)
from tests.local_stores import POSTGRES_URL, REDIS_HOST, REDIS_PORT, closed_port, require_postgres, require_redis


@pytest.fixture(scope="module", autouse=True)
def stores() -> None:
    require_postgres()
    require_redis()


def refusal(check: Callable[..., None], *args: Any, **kwargs: Any) -> str:
    with pytest.raises(StoreUnreachable) as error:
        check(*args, **kwargs)
    return str(error.value)


# -- PostgreSQL -----------------------------------------------------------------------------------------
def test_the_postgresql_database_passes():
    check_sql(POSTGRES_URL, "Tracker store", TRACKER_HINTS, timeout=3)


def test_postgresql_on_a_closed_port_is_unreachable():
    port = closed_port()
    message = refusal(check_sql, f"postgresql://postgres@127.0.0.1:{port}/alimail", "Tracker store", TRACKER_HINTS, 3)
    assert message == (
        f"Tracker store PostgreSQL at 127.0.0.1:{port} (database alimail, user postgres) is unreachable: "
        "connection refused. Start it or fix TRACKER_DB_HOST / TRACKER_DB_PORT."
    )


def test_a_missing_database_comes_with_the_createdb_command():
    message = refusal(
        check_sql, "postgresql://postgres@127.0.0.1:5432/alimail_no_such_db", "Tracker store", TRACKER_HINTS, 3
    )
    assert message == (
        "Tracker store PostgreSQL at 127.0.0.1:5432 (database alimail_no_such_db, user postgres) has no such "
        'database: database "alimail_no_such_db" does not exist. '
        "Create it (createdb -h 127.0.0.1 -p 5432 -U postgres alimail_no_such_db) or fix TRACKER_DB_NAME."
    )


def test_an_unknown_user_is_a_refused_login():
    message = refusal(check_sql, "postgresql://alimail_nobody@127.0.0.1:5432/test", "Tracker store", TRACKER_HINTS, 3)
    assert message == (
        "Tracker store PostgreSQL at 127.0.0.1:5432 (database test, user alimail_nobody) refused the login: "
        'role "alimail_nobody" does not exist. Fix TRACKER_DB_USER / TRACKER_DB_PASSWORD.'
    )


def test_the_ticket_database_gets_its_own_hints():
    port = closed_port()
    message = refusal(check_sql, f"postgresql://postgres@127.0.0.1:{port}/tickets", "Ticket database", TICKETS_HINTS)
    assert message.startswith(f"Ticket database PostgreSQL at 127.0.0.1:{port} (database tickets, user postgres)")
    assert message.endswith("is unreachable: connection refused. Start it or fix TICKETS_DB_URL.")
    message = refusal(check_sql, "postgresql://postgres@127.0.0.1:5432/no_tickets_db", "Ticket database", TICKETS_HINTS)
    assert message.endswith("Create the database or fix TICKETS_DB_URL.")


# -- Redis ----------------------------------------------------------------------------------------------
def test_redis_passes():
    check_redis(REDIS_HOST, REDIS_PORT, 1, timeout=3)
    check_redis(REDIS_HOST, str(REDIS_PORT), "1", username="", password="", use_ssl=False, timeout=3)


def test_redis_on_a_closed_port_is_unreachable():
    port = closed_port()
    assert refusal(check_redis, "127.0.0.1", port, 1, timeout=3) == (
        f"Lock store Redis at 127.0.0.1:{port} (db 1) is unreachable: connection refused. "
        "Start it or fix REDIS_HOST / REDIS_PORT."
    )


def test_a_redis_db_beyond_the_servers_databases_is_refused():
    assert refusal(check_redis, REDIS_HOST, REDIS_PORT, 999, timeout=3) == (
        f"Lock store Redis at {REDIS_HOST}:{REDIS_PORT} (db 999) refused the database: DB index is out of range. "
        "Fix REDIS_DB (the server's `databases` setting limits it)."
    )


def test_a_password_redis_does_not_accept_is_a_refused_login():
    message = refusal(check_redis, REDIS_HOST, REDIS_PORT, 1, username="alimail", password="wrong", timeout=3)
    assert message.startswith(f"Lock store Redis at {REDIS_HOST}:{REDIS_PORT} (db 1) refused the login: ")
    assert message.endswith("Fix REDIS_PASSWORD.")


def test_the_label_and_hints_can_name_another_redis_store():
    hints = {**REDIS_HINTS, "network": "Start it or fix TRACKER_REDIS_PORT."}
    message = refusal(check_redis, "127.0.0.1", closed_port(), 0, what="Tracker store", hints=hints, timeout=3)
    assert message.startswith("Tracker store Redis at 127.0.0.1:") and message.endswith("TRACKER_REDIS_PORT.")
