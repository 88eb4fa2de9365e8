"""stores/strict.py against the machine's PostgreSQL and Redis: the stores work when their server is there,
and refuse to start (instead of Rasa's silent fallbacks) when it is not, also when Rasa creates them."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import create_tracker_store
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from stores.strict import StoreUnavailableError, StrictRedisLockStore, StrictSQLTrackerStore
from tests.local_stores import (
    POSTGRES_DB,
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    REDIS_HOST,
    REDIS_PORT,
    closed_port,
    require_postgres,
    require_redis,
)

TRACKER_TYPE = "stores.strict.StrictSQLTrackerStore"
LOCK_TYPE = "stores.strict.StrictRedisLockStore"


@pytest.fixture(scope="module", autouse=True)
def stores() -> None:
    require_postgres()
    require_redis()


def tracker_endpoint(**changes: str) -> EndpointConfig:
    """As endpoints.production.yml gives it to Rasa: every value a string, unset ones empty."""
    settings = {
        "dialect": "postgresql",
        "port": str(POSTGRES_PORT),
        "db": POSTGRES_DB,
        "username": POSTGRES_USER,
        "password": "",
        "login_db": "",
        "connect_timeout": "3",
        **changes,
    }
    return EndpointConfig(url=settings.pop("url", POSTGRES_HOST), type=TRACKER_TYPE, **settings)


def lock_endpoint(**changes: str) -> EndpointConfig:
    settings = {"port": str(REDIS_PORT), "db": "1", "password": "", "use_ssl": "false", "key_prefix": "alimailtest"}
    settings.update(changes)
    return EndpointConfig(url=settings.pop("url", REDIS_HOST), type=LOCK_TYPE, **settings)


# -- tracker store --------------------------------------------------------------------------------------
def test_rasa_creates_the_tracker_store_and_it_keeps_a_conversation():
    store = create_tracker_store(tracker_endpoint(), Domain.empty())
    assert isinstance(store, StrictSQLTrackerStore)
    sender = f"strict-test-{uuid.uuid4().hex}"
    try:
        asyncio.run(store.save(DialogueStateTracker.from_events(sender, [UserUttered("hello postgres")])))
        again = asyncio.run(store.retrieve(sender))
        assert again is not None and again.latest_message.text == "hello postgres"
    finally:
        with store.engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM events WHERE sender_id = :sender"), {"sender": sender})


def test_an_unreachable_database_stops_rasa_instead_of_a_silent_in_memory_fallback():
    port = closed_port()
    with pytest.raises(StoreUnavailableError) as error:
        create_tracker_store(tracker_endpoint(port=str(port), db="alimail"), Domain.empty())
    assert str(error.value) == (
        f"Tracker store PostgreSQL at 127.0.0.1:{port} (database alimail, user postgres) is unreachable: "
        "connection refused. Start it or fix TRACKER_DB_HOST / TRACKER_DB_PORT."
    )


def test_a_missing_database_is_named_with_the_command_that_creates_it():
    with pytest.raises(StoreUnavailableError, match=r"createdb -h 127\.0\.0\.1 -p 5432 -U postgres alimail_missing"):
        StrictSQLTrackerStore(
            Domain.empty(), host=POSTGRES_HOST, port=POSTGRES_PORT, db="alimail_missing", username=POSTGRES_USER
        )


def test_the_port_may_come_inside_the_host():
    store = StrictSQLTrackerStore(
        Domain.empty(), host=f"{POSTGRES_HOST}:{POSTGRES_PORT}", db=POSTGRES_DB, username=POSTGRES_USER
    )
    assert store.engine.url.port == POSTGRES_PORT


# -- lock store -----------------------------------------------------------------------------------------
def test_rasa_creates_the_lock_store_with_its_prefix_and_db():
    store = LockStore.create(lock_endpoint())
    assert isinstance(store, StrictRedisLockStore)
    assert store.key_prefix == "alimailtest:lock:"
    assert store.red.connection_pool.connection_kwargs["db"] == 1
    conversation = f"strict-test-{uuid.uuid4().hex}"
    lock = store.create_lock(conversation)
    ticket = lock.issue_ticket(30)
    store.save_lock(lock)
    try:
        saved = store.get_lock(conversation)
        assert saved is not None and saved.last_issued == ticket
        assert store.red.exists(f"alimailtest:lock:{conversation}") == 1
    finally:
        store.delete_lock(conversation)


def test_the_socket_timeout_setting_reaches_the_client():
    store = StrictRedisLockStore(endpoint_config=lock_endpoint(socket_timeout="7"))
    assert store.red.connection_pool.connection_kwargs["socket_timeout"] == 7.0


def test_an_unreachable_redis_stops_rasa_when_it_creates_the_lock_store():
    port = closed_port()
    with pytest.raises(StoreUnavailableError) as error:
        LockStore.create(lock_endpoint(port=str(port), connect_timeout="2"))
    assert str(error.value) == (
        f"Lock store Redis at 127.0.0.1:{port} (db 1) is unreachable: connection refused. "
        "Start it or fix REDIS_HOST / REDIS_PORT."
    )


def test_a_redis_db_out_of_range_is_refused():
    with pytest.raises(StoreUnavailableError, match=r"\(db 999\) refused the database"):
        StrictRedisLockStore(host=REDIS_HOST, port=REDIS_PORT, db=999)


# -- bounded waits (issue 17) -------------------------------------------------------------------------------
def test_without_socket_timeout_the_lock_store_waits_at_most_lock_store_timeout(monkeypatch):
    monkeypatch.setenv("LOCK_STORE_TIMEOUT", "0.7")
    store = StrictRedisLockStore(endpoint_config=lock_endpoint())
    kwargs = store.red.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 0.7  # redis-py uses it for connecting too (socket_connect_timeout unset)
    assert kwargs.get("socket_connect_timeout") in (None, 0.7)


def test_a_tracker_statement_is_cut_off_after_tracker_store_timeout(monkeypatch):
    """Rasa's engine would wait for PostgreSQL as long as a statement runs; ours gives up after the setting."""
    monkeypatch.setenv("TRACKER_STORE_TIMEOUT", "2")
    store = StrictSQLTrackerStore(
        Domain.empty(), host=POSTGRES_HOST, port=POSTGRES_PORT, db=POSTGRES_DB, username=POSTGRES_USER
    )
    assert store.engine.pool._pre_ping is True
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SHOW statement_timeout")).scalar() == "2s"
        with pytest.raises(sa.exc.OperationalError, match="statement timeout"):
            connection.execute(sa.text("SELECT pg_sleep(5)"))
    store.engine.dispose()
