"""tools/check_stores.py: reading the endpoints file as Rasa does, and the checks that need no server.
(PostgreSQL, Redis and `main`: tests/integration/tools/test_check_stores.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.utils.endpoints import EndpointConfig

from tools.check_stores import (
    check_lock_store,
    check_tickets,
    check_tracker_store,
    endpoint_file_problems,
    sql_url_of,
    variables_in,
)

ENDPOINTS = """\
tracker_store:
  type: stores.strict.StrictSQLTrackerStore
  dialect: postgresql
  url: ${TRACKER_DB_HOST}   # host ${NOT_THIS_ONE}
  port: ${TRACKER_DB_PORT}
  password: "${TRACKER_DB_PASSWORD}"
  db: 'alimail#1'
# ${COMMENTED_OUT}
lock_store:
  type: redis
  url: ${REDIS_HOST}
  key_prefix: ${TRACKER_DB_HOST}
"""


def test_variables_in_order_without_those_in_comments() -> None:
    assert variables_in(ENDPOINTS) == ["TRACKER_DB_HOST", "TRACKER_DB_PORT", "TRACKER_DB_PASSWORD", "REDIS_HOST"]


def test_quoted_and_unset_variables_are_reported() -> None:
    problems = endpoint_file_problems(ENDPOINTS, {"TRACKER_DB_HOST": "db", "TRACKER_DB_PORT": "5432"})
    assert len(problems) == 2
    assert problems[0].startswith("line 6: 'password: \"${TRACKER_DB_PASSWORD}\"' is quoted")
    assert problems[1].startswith("environment variable(s) TRACKER_DB_PASSWORD, REDIS_HOST unset")


def test_a_clean_file_with_every_variable_set_has_no_problem() -> None:
    text = ENDPOINTS.replace('"${TRACKER_DB_PASSWORD}"', "${TRACKER_DB_PASSWORD}")
    environ = {name: "x" for name in variables_in(text)}
    assert endpoint_file_problems(text, environ) == []


def test_the_sql_url_is_built_as_rasa_builds_it() -> None:
    config = EndpointConfig(
        url="db.internal", type="sql", dialect="postgresql", port="5433", db="rasa", username="bot", password="pw"
    )
    url = sql_url_of(config)
    assert (url.drivername, url.host, url.port, url.database, url.username) == (
        "postgresql",
        "db.internal",
        5433,
        "rasa",
        "bot",
    )
    assert sql_url_of(EndpointConfig(type="sql", dialect="sqlite", db="trackers.db", url="")).database == "trackers.db"


def test_an_sqlite_tracker_store_and_ticket_database_are_checked_by_connecting(tmp_path: Path) -> None:
    db = tmp_path / "trackers.db"
    problem, description = check_tracker_store(EndpointConfig(type="sql", dialect="sqlite", db=str(db)), True, 2.0)
    assert problem is None and description == f"Tracker store: SQLite file {db}"
    tickets = tmp_path / "new" / "folder" / "tickets.sqlite3"
    problem, description = check_tickets(f"sqlite:///{tickets}", 2.0)
    assert problem is None and description == f"Ticket database: SQLite file {tickets}"
    assert tickets.parent.is_dir()  # created, as the ticket store would


def test_an_unusable_ticket_database_is_a_problem() -> None:
    problem, _ = check_tickets("sqlite:////proc/not-writable/tickets.sqlite3", 2.0)
    assert problem is not None and problem.startswith("Ticket database")


@pytest.mark.parametrize("require_shared", [True, False])
def test_stores_that_are_not_shared_are_a_problem_only_when_shared_ones_are_required(require_shared: bool) -> None:
    tracker_problem, tracker = check_tracker_store(None, require_shared, 1.0)
    lock_problem, lock = check_lock_store(None, require_shared, 1.0)
    assert (tracker, lock) == ("Tracker store: in memory", "Lock store: in memory")
    assert (tracker_problem is not None, lock_problem is not None) == (require_shared, require_shared)


def test_stores_this_check_does_not_know_are_named_not_checked() -> None:
    assert check_tracker_store(EndpointConfig(type="mongod"), True, 1.0) == (
        None,
        "Tracker store: mongod (not checked here)",
    )
    assert check_lock_store(EndpointConfig(type="rasa.core.lock_store.InMemoryLockStore"), True, 1.0) == (
        None,
        "Lock store: rasa.core.lock_store.InMemoryLockStore (not checked here)",
    )
    problem, _ = check_lock_store(EndpointConfig(type="stores.nowhere.Lock"), True, 1.0)
    assert problem is not None and "can't be loaded" in problem


def test_preflight_flags_a_tracker_store_class_rasa_would_silently_replace_by_memory() -> None:
    """Rasa 3.6 falls back to InMemoryTrackerStore when a custom tracker store class can't be imported."""
    problem, description = check_tracker_store(EndpointConfig(type="stores.strict.NoSuchStore"), True, 1.0)
    assert problem is not None and description == ""
    assert "'stores.strict.NoSuchStore' can't be loaded" in problem and "in-memory tracker store" in problem
    problem, _ = check_tracker_store(None, True, 1.0)
    assert problem is not None and "none configured" in problem
    problem, description = check_lock_store(EndpointConfig(type="in_memory"), True, 1.0)
    assert problem is not None and "none configured" in problem and description == "Lock store: in memory"
    assert check_lock_store(EndpointConfig(type="in_memory"), False, 1.0) == (None, "Lock store: in memory")


@pytest.mark.parametrize("store_type", ["redis", "stores.strict.StrictRedisLockStore"])
def test_a_lock_store_key_prefix_rasa_would_drop_is_a_problem_found_without_connecting(store_type: str) -> None:
    # Port 9 (discard) on a host that does not exist: connecting would give another problem.
    config = EndpointConfig(type=store_type, url="no-such-host.invalid", port=9, key_prefix="not-alnum")
    problem, description = check_lock_store(config, True, 1.0)
    assert problem is not None and description == ""
    assert problem.startswith("Lock store key prefix 'not-alnum' must be letters and digits only")
    assert problem.endswith("Fix REDIS_KEY_PREFIX.")
