"""Read-only access to Rasa's SQL tracker store (the `events` table), any SQLAlchemy URL."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

EVENTS_QUERY = (
    "SELECT id, sender_id, type_name, timestamp, intent_name, action_name, data FROM events"
    " {where} ORDER BY sender_id, id"
)


class TrackerDbError(Exception):
    """The tracker store can't be read; the message says why, without the password."""


@dataclass
class Event:
    """One stored tracker event."""

    id: int
    sender_id: str
    type_name: str
    timestamp: Optional[float]
    intent_name: Optional[str]
    action_name: Optional[str]
    data: Dict[str, Any]


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return repr(make_url(url))
    except ArgumentError:
        return url


def sqlite_engine(database: Optional[str], timeout: float) -> Engine:
    """SQLite opened read-only (mode=ro): the file is never created or written."""
    if not database or database == ":memory:":
        raise TrackerDbError("an SQLite tracker store needs a file: sqlite:///path/to/trackers.sqlite3")
    path = Path(database).expanduser().resolve()
    if not path.is_file():
        raise TrackerDbError(f"no tracker database at {path} (has the bot had any conversation yet?)")
    uri = f"file:{quote(str(path))}?mode=ro"
    return create_engine(
        "sqlite://",
        poolclass=NullPool,
        future=True,
        hide_parameters=True,  # errors show no sender ids or texts
        creator=lambda: sqlite3.connect(uri, uri=True, timeout=timeout),
    )


def open_engine(url: str, timeout: float) -> Engine:
    """An engine for `url` that gives up connecting after `timeout` seconds."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise TrackerDbError(f"not a database URL: {url!r} ({error})") from error
    if parsed.get_backend_name() == "sqlite":
        return sqlite_engine(parsed.database, timeout)
    connect_args: Dict[str, Any] = {}
    if parsed.get_backend_name() in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = max(1, int(timeout))
    try:
        return create_engine(parsed, poolclass=NullPool, connect_args=connect_args, future=True, hide_parameters=True)
    except (ArgumentError, ImportError, SQLAlchemyError) as error:
        raise TrackerDbError(f"can't use {safe_url(url)}: {error}") from error


def _row_event(row: Any) -> Event:
    try:
        data = json.loads(row.data) if row.data else {}
    except ValueError:
        data = {}
    return Event(
        row.id,
        row.sender_id,
        row.type_name,
        row.timestamp,
        row.intent_name,
        row.action_name,
        data if isinstance(data, dict) else {},
    )


def read_events(url: str, since: Optional[float] = None, timeout: float = 10.0) -> Iterator[Event]:
    """Every stored event (from `since`, a Unix time, when given), by conversation then in order."""
    engine = open_engine(url, timeout)
    where = "WHERE timestamp >= :since" if since is not None else ""
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SET TRANSACTION READ ONLY"))
            result = connection.execution_options(stream_results=True).execute(
                text(EVENTS_QUERY.format(where=where)), {"since": since}
            )
            for row in result:
                yield _row_event(row)
    except SQLAlchemyError as error:
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        if "events" in detail and ("no such table" in detail or "does not exist" in detail):
            detail += " (is this Rasa's SQL tracker store?)"
        raise TrackerDbError(f"can't read the conversations in {safe_url(url)}: {detail}") from error
    finally:
        engine.dispose()


def conversations(events: Iterator[Event]) -> Iterator[List[Event]]:
    """The events of each sender, split into sessions at each `session_started` (only sessions
    in which the user said something)."""
    for _, sender_events in groupby(events, key=lambda e: e.sender_id):
        session: List[Event] = []
        said = False
        for event in sender_events:
            if event.type_name == "session_started" and said:
                yield session
                session, said = [], False
            session.append(event)
            said = said or event.type_name == "user"
        if said:
            yield session
