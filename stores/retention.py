"""Retention for Rasa's SQL tracker store: delete conversations whose last event is older than a cutoff.

Rasa 3.6's `SQLTrackerStore` keeps one row per event in the table `events` (sender_id, type_name,
timestamp, intent_name, action_name, data). A conversation is a sender_id; it is expired when its
LAST event is older than the cutoff, and then all its events are deleted.

The work is done in batches of conversations, each in its own short transaction (SQLite: BEGIN
IMMEDIATE, so Rasa's writes wait a moment instead of failing; other databases: the batch's rows
locked FOR UPDATE) that re-checks which conversations are still expired and deletes only their
events older than the cutoff. So the counts are exact and two runs at once are safe: the second
finds nothing left. A user who comes back while their old conversation is being deleted keeps
the new turn (it is newer than the cutoff).

`tracker_engine(url)` is the engine for any SQLAlchemy URL: parameters hidden from errors, no pool,
an SQLite file never created (`TrackerStoreMissing` instead), and SQLite's `secure_delete` on, so
deleted and overwritten text is zeroed in the file (`checkpoint` then empties a WAL). `stores.scrub`
uses it too. PostgreSQL keeps old row versions in the table's files until VACUUM reuses the space
(SECURITY.md, "Retention").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool

EVENTS_TABLE = "events"
BATCH_CONVERSATIONS = 200
SQLITE_BUSY_SECONDS = 15.0


class TrackerStoreMissing(LookupError):
    """There is no tracker store at the URL yet (no SQLite file, or no `events` table): nothing to do."""


@dataclass(frozen=True)
class PurgeResult:
    """What a purge deleted (or, in a dry run, would delete)."""

    conversations: int
    events: int


def sqlite_path(url: str) -> Path:
    """The file of an SQLite URL (relative to the current folder, as SQLAlchemy reads it)."""
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError("an SQLite tracker store needs a file: sqlite:///path/to/trackers.sqlite3")
    return Path(database).expanduser().resolve()


def tracker_engine(url: str, timeout_seconds: float = 10.0) -> Engine:
    """An engine for the tracker store at `url` that writes in short transactions and hides parameters."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if not path.is_file():
            raise TrackerStoreMissing(f"no tracker database at {path}")
        engine = sa.create_engine(
            parsed,
            poolclass=NullPool,
            hide_parameters=True,
            connect_args={"timeout": max(timeout_seconds, SQLITE_BUSY_SECONDS)},
        )

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # BEGIN IMMEDIATE below, not pysqlite's deferred BEGIN
            # What is deleted or overwritten is zeroed in the file, not left in free pages.
            dbapi_connection.execute("PRAGMA secure_delete=ON")

        @sa.event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    connect_args: Dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, int(timeout_seconds))
    return sa.create_engine(parsed, poolclass=NullPool, hide_parameters=True, connect_args=connect_args)


def checkpoint(engine: Engine) -> None:
    """SQLite in WAL mode: copy the WAL into the database and truncate it, so the old pages it may hold go
    (best effort: a reader of the running bot can hold it back). Other databases: nothing."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def require_events_table(engine: Engine) -> None:
    """TrackerStoreMissing unless the database has Rasa's `events` table."""
    if not sa.inspect(engine).has_table(EVENTS_TABLE):
        raise TrackerStoreMissing(f"no `{EVENTS_TABLE}` table (Rasa creates it when it first starts)")


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_EXPIRED = sa.text(
    "SELECT sender_id, COUNT(*) AS events FROM events"
    " WHERE sender_id IN :senders GROUP BY sender_id HAVING MAX(timestamp) < :cutoff"
).bindparams(sa.bindparam("senders", expanding=True))
_LOCK_ROWS = sa.text("SELECT id FROM events WHERE sender_id IN :senders FOR UPDATE").bindparams(
    sa.bindparam("senders", expanding=True)
)
_DELETE = sa.text(
    "DELETE FROM events WHERE sender_id IN :senders AND (timestamp < :cutoff OR timestamp IS NULL)"
).bindparams(sa.bindparam("senders", expanding=True))


def expired_conversations(engine: Engine, cutoff: float) -> List[str]:
    """The sender ids whose last event is older than `cutoff` (a Unix time)."""
    require_events_table(engine)
    query = sa.text("SELECT sender_id FROM events GROUP BY sender_id HAVING MAX(timestamp) < :cutoff")
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(query, {"cutoff": cutoff})]


def purge_conversations(engine: Engine, cutoff: float, dry_run: bool = False) -> PurgeResult:
    """Delete every conversation whose last event is older than `cutoff` (a Unix time), all its events.

    Returns how many conversations and events were deleted (`dry_run`: would be; nothing changes).
    """
    candidates = expired_conversations(engine, cutoff)
    conversations = events = 0
    for batch in _chunks(candidates, BATCH_CONVERSATIONS):
        params = {"senders": list(batch), "cutoff": cutoff}
        if dry_run:
            with engine.connect() as connection:
                expired = connection.execute(_EXPIRED, params).all()
            conversations += len(expired)
            events += sum(int(count) for _, count in expired)
            continue
        with engine.begin() as connection:
            if connection.dialect.name != "sqlite":  # SQLite: BEGIN IMMEDIATE already serialises writers
                connection.execute(_LOCK_ROWS, params)  # a second run waits here, then finds them gone
            # Again inside the transaction: a conversation may have come back, or another run deleted it.
            expired = connection.execute(_EXPIRED, params).all()
            if not expired:
                continue
            deleted = connection.execute(_DELETE, {"senders": [sender for sender, _ in expired], "cutoff": cutoff})
            conversations += len(expired)
            events += deleted.rowcount
    if events and not dry_run:
        checkpoint(engine)
    return PurgeResult(conversations, events)
