"""stores/connectivity.py without a server: the flag parser, how driver errors are summed up and classified,
and the check against real SQLite files. (PostgreSQL and Redis: tests/integration/stores/.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from stores.connectivity import (
    TICKETS_HINTS,
    TRACKER_HINTS,
    StoreUnreachable,
    _kind,
    _reason,
    _where,
    check_sql,
    flag,
)


@pytest.mark.parametrize(
    "value, expected",
    [(True, True), (False, False), ("true", True), (" TRUE ", True), ("1", True), ("yes", True), ("on", True),
     ("false", False), ("0", False), ("no", False), ("off", False), ("", False), ("  ", False), (1, True),
     (0, False), (None, False)],
)  # fmt: skip
def test_flag_reads_yaml_booleans_and_environment_strings(value, expected):
    assert flag(value) is expected


def test_flag_refuses_a_word_that_is_no_boolean():
    with pytest.raises(ValueError, match="'maybe' is not a boolean"):
        flag("maybe")


class OperationalError(Exception):
    """Named like the drivers' error classes, whose name _kind also reads."""


@pytest.mark.parametrize(
    "message, reason",
    [
        ('connection to server at "127.0.0.1", port 5999 failed: Connection refused\n\tIs the server running',
         "connection refused"),
        ("Error 111 connecting to 127.0.0.1:6399. Connection refused.", "connection refused"),
        ("timeout expired", "timed out"),
        ("Timeout connecting to server: timed out", "timed out"),
        ('could not translate host name "db.invalid" to address: Name or service not known', "unknown host"),
        ("Error -3 connecting to redis.invalid:6379. Temporary failure in name resolution.", "unknown host"),
        ("No route to host", "no route to host"),
        ("[Errno 101] Network is unreachable", "network is unreachable"),
        ('(psycopg2.OperationalError) connection to server at "127.0.0.1", port 5432 failed: FATAL:  database '
         '"alimail" does not exist\n\n(Background on this error at: https://sqlalche.me/e/14/e3q8)',
         'database "alimail" does not exist'),
        ("(sqlite3.OperationalError) unable to open database file", "unable to open database file"),
        ("ERROR: something odd happened.", "something odd happened"),
    ],
)  # fmt: skip
def test_a_driver_error_is_summed_up_in_a_few_words(message, reason):
    assert _reason(OperationalError(message)) == reason


def test_an_empty_or_long_error_message_is_replaced_or_cut():
    assert _reason(OperationalError("")) == "OperationalError"
    assert len(_reason(OperationalError("x" * 1000))) == 300


@pytest.mark.parametrize(
    "error, kind",
    [
        (OperationalError('FATAL:  password authentication failed for user "rasa"'), "auth"),
        (OperationalError('FATAL:  role "nobody" does not exist'), "auth"),
        (OperationalError("invalid username-password pair or user is disabled."), "auth"),
        (OperationalError("NOAUTH Authentication required."), "auth"),
        (OperationalError("WRONGPASS invalid username-password pair"), "auth"),
        (type("AuthenticationError", (Exception,), {})("denied"), "auth"),
        (OperationalError('FATAL:  database "alimail" does not exist'), "database"),
        (OperationalError("DB index is out of range"), "database"),
        (OperationalError("Connection refused"), "network"),
        (OperationalError("unable to open database file"), "network"),
    ],
)
def test_a_driver_error_is_classified_for_its_hint(error, kind):
    assert _kind(error) == kind


def test_where_names_host_and_port():
    assert _where("db", 5432) == "db:5432"
    assert _where(None, "6379") == "localhost:6379"
    assert _where("db", None) == "db" and _where(None, None) == "localhost"


def test_a_usable_sqlite_file_passes(tmp_path: Path):
    check_sql(f"sqlite:///{tmp_path / 'tickets.sqlite3'}", "Ticket database", TICKETS_HINTS)
    assert (tmp_path / "tickets.sqlite3").is_file()


def test_an_sqlite_file_that_cannot_be_opened_is_reported_with_its_path_and_hint(tmp_path: Path):
    path = tmp_path / "missing-folder" / "tickets.sqlite3"
    with pytest.raises(StoreUnreachable) as error:
        check_sql(f"sqlite:///{path}", "Ticket database", TICKETS_HINTS, timeout=1)
    assert str(error.value) == (
        f"Ticket database SQLite file {path} is unreachable: unable to open database file. "
        "Start it or fix TICKETS_DB_URL."
    )


def test_a_url_object_is_accepted_as_well_as_a_string(tmp_path: Path):
    from sqlalchemy.engine import URL

    check_sql(URL.create("sqlite", database=str(tmp_path / "t.db")), "Tracker store", TRACKER_HINTS)
    with pytest.raises(StoreUnreachable, match=r"^Tracker store SQLite file .*missing/t\.db is unreachable"):
        check_sql(URL.create("sqlite", database=str(tmp_path / "missing" / "t.db")), "Tracker store", TRACKER_HINTS)
