"""tools/check_stores.py against the machine's PostgreSQL and Redis and a port where nothing listens:
each store section's check, and the whole preflight (`main`) on an endpoints file, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.utils.endpoints import EndpointConfig

from tests.local_stores import (
    POSTGRES_DB,
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_URL,
    POSTGRES_USER,
    REDIS_HOST,
    REDIS_PORT,
    closed_port,
    require_postgres,
    require_redis,
)
from tools.check_stores import check_lock_store, check_tickets, check_tracker_store, main

ENDPOINTS = """\
tracker_store:
  type: stores.strict.StrictSQLTrackerStore
  dialect: postgresql
  url: ${CHECK_TEST_DB_HOST}
  port: ${CHECK_TEST_DB_PORT}
  db: ${CHECK_TEST_DB_NAME}
  username: ${CHECK_TEST_DB_USER}
  password: ${CHECK_TEST_DB_PASSWORD}
lock_store:
  type: stores.strict.StrictRedisLockStore
  url: ${CHECK_TEST_REDIS_HOST}
  port: ${CHECK_TEST_REDIS_PORT}
  db: "1"
  key_prefix: alimailtest
"""


@pytest.fixture(scope="module", autouse=True)
def stores() -> None:
    require_postgres()
    require_redis()


def postgres_config(store_type: str = "sql", **changes: object) -> EndpointConfig:
    settings = {"dialect": "postgresql", "port": str(POSTGRES_PORT), "db": POSTGRES_DB, "username": POSTGRES_USER}
    settings.update(changes)  # type: ignore[arg-type]
    return EndpointConfig(url=POSTGRES_HOST, type=store_type, **settings)


# -- tracker store --------------------------------------------------------------------------------------
@pytest.mark.parametrize("store_type", ["sql", "SQL", "stores.strict.StrictSQLTrackerStore"])
def test_a_reachable_postgresql_tracker_store_passes(store_type: str) -> None:
    problem, description = check_tracker_store(postgres_config(store_type, password=""), True, 3.0)
    assert problem is None
    assert description == f"Tracker store: postgresql at {POSTGRES_HOST}:{POSTGRES_PORT} (database {POSTGRES_DB})"


def test_an_unreachable_postgresql_tracker_store_is_the_problem_reported() -> None:
    port = closed_port()
    problem, description = check_tracker_store(postgres_config(port=str(port), db="alimail"), True, 3.0)
    assert description == ""
    assert problem == (
        f"Tracker store PostgreSQL at 127.0.0.1:{port} (database alimail, user postgres) is unreachable: "
        "connection refused. Start it or fix TRACKER_DB_HOST / TRACKER_DB_PORT."
    )


def test_a_redis_tracker_store_is_checked_too() -> None:
    config = EndpointConfig(url=REDIS_HOST, type="redis", port=str(REDIS_PORT), db="0", password="")
    assert check_tracker_store(config, True, 3.0) == (None, f"Tracker store: Redis at {REDIS_HOST}:{REDIS_PORT}")
    port = closed_port()
    problem, _ = check_tracker_store(EndpointConfig(url="127.0.0.1", type="redis", port=port), True, 3.0)
    assert problem is not None and problem.startswith(f"Tracker store Redis at 127.0.0.1:{port} (db 0) is unreachable")


# -- lock store ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("store_type", ["redis", "stores.strict.StrictRedisLockStore"])
def test_a_reachable_redis_lock_store_passes(store_type: str) -> None:
    config = EndpointConfig(url=REDIS_HOST, type=store_type, port=str(REDIS_PORT), db="1", key_prefix="alimail")
    assert check_lock_store(config, True, 3.0) == (
        None,
        f"Lock store: Redis at {REDIS_HOST}:{REDIS_PORT} (db 1, key prefix alimail)",
    )


def test_an_unreachable_or_refusing_redis_lock_store_is_the_problem_reported() -> None:
    port = closed_port()
    problem, _ = check_lock_store(EndpointConfig(url="127.0.0.1", type="redis", port=port), True, 3.0)
    assert problem == (
        f"Lock store Redis at 127.0.0.1:{port} (db 1) is unreachable: connection refused. "
        "Start it or fix REDIS_HOST / REDIS_PORT."
    )
    problem, _ = check_lock_store(EndpointConfig(url=REDIS_HOST, type="redis", port=REDIS_PORT, db=999), True, 3.0)
    assert problem is not None and "(db 999) refused the database: DB index is out of range" in problem


# -- ticket database ----------------------------------------------------------------------------------
def test_the_ticket_database_on_postgresql() -> None:
    assert check_tickets(POSTGRES_URL, 3.0) == (
        None,
        f"Ticket database: postgresql at {POSTGRES_HOST}:{POSTGRES_PORT} (database {POSTGRES_DB})",
    )
    port = closed_port()
    problem, _ = check_tickets(f"postgresql://postgres@127.0.0.1:{port}/tickets", 3.0)
    assert problem is not None and problem.endswith("connection refused. Start it or fix TICKETS_DB_URL.")


# -- the whole preflight --------------------------------------------------------------------------------
@pytest.fixture
def endpoints_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The endpoints file, its variables set to the machine's stores (Rasa reads them from os.environ)."""
    for name, value in {
        "CHECK_TEST_DB_HOST": POSTGRES_HOST,
        "CHECK_TEST_DB_PORT": str(POSTGRES_PORT),
        "CHECK_TEST_DB_NAME": POSTGRES_DB,
        "CHECK_TEST_DB_USER": POSTGRES_USER,
        "CHECK_TEST_DB_PASSWORD": "",
        "CHECK_TEST_REDIS_HOST": REDIS_HOST,
        "CHECK_TEST_REDIS_PORT": str(REDIS_PORT),
    }.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "endpoints.yml"
    path.write_text(ENDPOINTS, encoding="utf-8")
    return path


def test_main_passes_when_every_store_is_reachable(endpoints_file: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["--endpoints", str(endpoints_file), "--require-shared", "--tickets-db-url", POSTGRES_URL])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"ok  Tracker store: postgresql at {POSTGRES_HOST}:{POSTGRES_PORT} (database {POSTGRES_DB})",
        f"ok  Lock store: Redis at {REDIS_HOST}:{REDIS_PORT} (db 1, key prefix alimailtest)",
        f"ok  Ticket database: postgresql at {POSTGRES_HOST}:{POSTGRES_PORT} (database {POSTGRES_DB})",
    ]


def test_main_reports_every_unreachable_store_and_exits_1(
    endpoints_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    db_port, redis_port, tickets_port = closed_port(), closed_port(), closed_port()
    monkeypatch.setenv("CHECK_TEST_DB_PORT", str(db_port))
    monkeypatch.setenv("CHECK_TEST_REDIS_PORT", str(redis_port))
    tickets = f"postgresql://postgres@127.0.0.1:{tickets_port}/tickets"
    code = main(["--endpoints", str(endpoints_file), "--tickets-db-url", tickets, "--timeout", "2"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"Tracker store PostgreSQL at 127.0.0.1:{db_port} (database {POSTGRES_DB}")
    assert lines[1].startswith(f"Lock store Redis at 127.0.0.1:{redis_port} (db 1) is unreachable")
    assert lines[2].startswith(f"Ticket database PostgreSQL at 127.0.0.1:{tickets_port}")


def test_main_tickets_only_checks_nothing_else(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    missing_endpoints = tmp_path / "nope.yml"  # not read with --tickets-only
    code = main(["--endpoints", str(missing_endpoints), "--tickets-only", "--tickets-db-url", POSTGRES_URL])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == f"ok  Ticket database: postgresql at {POSTGRES_HOST}:{POSTGRES_PORT} (database {POSTGRES_DB})\n"
    port = closed_port()
    assert main(["--tickets-only", "--tickets-db-url", f"postgresql://postgres@127.0.0.1:{port}/t"]) == 1
    assert "Start it or fix TICKETS_DB_URL." in capsys.readouterr().err
