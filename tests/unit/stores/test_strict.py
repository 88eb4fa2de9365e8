"""stores/strict.py without a server: the lock store's key prefix rule, empty settings, real SQLite files.
(Refusals of unreachable PostgreSQL and Redis: tests/integration/stores/test_strict.py.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

from stores.connectivity import StoreUnreachable
from stores.strict import StoreUnavailableError, StrictRedisLockStore, StrictSQLTrackerStore
from tests.local_stores import closed_port


def test_the_error_ends_rasa_with_its_message():
    error = StoreUnavailableError("Tracker store ... is unreachable")
    assert isinstance(error, RasaException) and isinstance(error, StoreUnreachable)
    assert str(error) == "Tracker store ... is unreachable"


@pytest.mark.parametrize("prefix", ["not-alnum", "with space", "a:b", "ünï-code"])
def test_a_key_prefix_rasa_would_silently_replace_is_refused_before_connecting(prefix):
    config = EndpointConfig(url="127.0.0.1", port=closed_port(), key_prefix=prefix)
    with pytest.raises(StoreUnavailableError) as error:
        StrictRedisLockStore(endpoint_config=config)
    assert str(error.value) == (
        f"Lock store key prefix {prefix!r} must be letters and digits only "
        "(Rasa would silently use its default prefix). Fix REDIS_KEY_PREFIX."
    )


def test_the_sql_tracker_store_works_on_a_usable_sqlite_file_with_empty_settings(tmp_path: Path):
    path = tmp_path / "trackers.sqlite3"
    store = StrictSQLTrackerStore(
        Domain.empty(), dialect="sqlite", db=str(path), port="", username="", password="", login_db=""
    )
    tracker = DialogueStateTracker.from_events("conversation-1", [UserUttered("hello")])
    asyncio.run(store.save(tracker))
    again = asyncio.run(store.retrieve("conversation-1"))
    assert again is not None and again.latest_message.text == "hello"
    assert path.is_file()


def test_the_sql_tracker_store_refuses_an_sqlite_file_it_cannot_open(tmp_path: Path):
    path = tmp_path / "no-such-folder" / "trackers.sqlite3"
    with pytest.raises(StoreUnavailableError) as error:
        StrictSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path), connect_timeout="1")
    assert str(error.value).startswith(f"Tracker store SQLite file {path} is unreachable: unable to open database file")
    assert error.value.__cause__ is None  # the message says it all: no driver traceback


def test_a_port_that_is_no_number_is_refused_before_connecting():
    with pytest.raises(RasaException, match="'fivefourthreetwo' cannot be cast to integer"):
        StrictSQLTrackerStore(Domain.empty(), host="127.0.0.1", port="fivefourthreetwo", db="test")
