"""Retention for tickets: a closed ticket's transcript is deleted some days after it was closed.

The ticket row stays (staff keep its fields, description, history and comments); only the
transcript, the conversation copied into it, is replaced by `TRANSCRIPT_NOTE` (still a JSON list
of {"who", "text"}, so every reader works unchanged). A ticket was closed at its last `status`
event (closed is final, see tickets.store.TRANSITIONS), or at `updated_at` when it has none.

Each ticket is updated on its own, guarded by its status and transcript: two runs at once, or a
ticket changed meanwhile, are safe, and the count is exact. Running it again changes nothing.

`open_engine(url)` is the engine for `make purge` and `make scrub` (tickets.scrub uses it): the
store's own engine (tickets.store.make_engine), but an SQLite file is never created and the
schema is never migrated (`TicketDatabaseMissing` instead); SQLite's `secure_delete` is on, so
replaced text is zeroed in the file, and `checkpoint` empties the WAL afterwards.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, List

from sqlalchemy import and_, event, func, inspect, select
from sqlalchemy.engine import Engine, make_url

from tickets.schema import ticket_events, tickets
from tickets.store import as_utc, format_id, make_engine

CLOSED = "closed"
TRANSCRIPT_NOTE = json.dumps(
    [{"who": "system", "text": "Transcript deleted after the retention period (TICKET_TRANSCRIPT_RETENTION_DAYS)."}],
    ensure_ascii=False,
)
EMPTY_TRANSCRIPT = "[]"


class TicketDatabaseMissing(LookupError):
    """There are no tickets at the URL yet (no SQLite file, or no `tickets` table): nothing to do."""


def open_engine(url: str, timeout_seconds: float = 10.0) -> Engine:
    """The ticket store's engine for `url`, without creating an SQLite file that does not exist."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or not Path(database).expanduser().is_file():
            raise TicketDatabaseMissing(f"no ticket database at {database or '(memory)'}")
        engine = make_engine(url, timeout_seconds)

        @event.listens_for(engine, "connect")
        def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
            # What is overwritten or deleted is zeroed in the file, not left in free pages.
            dbapi_connection.execute("PRAGMA secure_delete=ON")

        return engine
    return make_engine(url, timeout_seconds)


def checkpoint(engine: Engine) -> None:
    """SQLite (the store uses WAL): copy the WAL into the database and truncate it, so the old pages it holds
    go (best effort: a reader in the action server or API can hold it back). Other databases: nothing."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def require_ticket_tables(engine: Engine) -> None:
    """TicketDatabaseMissing unless the database has the ticket tables (tickets.schema)."""
    found = inspect(engine)
    if not (found.has_table(tickets.name) and found.has_table(ticket_events.name)):
        raise TicketDatabaseMissing("no ticket tables (the ticket store creates them on first use)")


def expired_transcripts(engine: Engine, cutoff: datetime) -> List[int]:
    """The numbers of the closed tickets closed before `cutoff` whose transcript is still there."""
    require_ticket_tables(engine)
    closed_at = (
        select(func.max(ticket_events.c.created_at))
        .where(and_(ticket_events.c.ticket_number == tickets.c.number, ticket_events.c.kind == "status"))
        .scalar_subquery()
    )
    query = (
        select(tickets.c.number, tickets.c.updated_at, closed_at.label("closed_at"))
        .where(tickets.c.status == CLOSED, tickets.c.transcript.notin_([TRANSCRIPT_NOTE, EMPTY_TRANSCRIPT]))
        .order_by(tickets.c.number)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    limit = cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=timezone.utc)
    expired = []
    for number, updated, closed in rows:
        when = as_utc(closed) or as_utc(updated)
        if when is not None and when < limit:
            expired.append(number)
    return expired


def expire_transcripts(engine: Engine, cutoff: datetime, dry_run: bool = False) -> List[str]:
    """Replace the transcript of every ticket closed before `cutoff` by TRANSCRIPT_NOTE.

    Returns the ids of the tickets changed (`dry_run`: that would be; nothing changes).
    """
    numbers = expired_transcripts(engine, cutoff)
    if dry_run:
        return [format_id(number) for number in numbers]
    changed = []
    for number in numbers:
        with engine.begin() as connection:
            result = connection.execute(
                tickets.update()
                .where(
                    tickets.c.number == number,
                    tickets.c.status == CLOSED,
                    tickets.c.transcript.notin_([TRANSCRIPT_NOTE, EMPTY_TRANSCRIPT]),
                )
                .values(transcript=TRANSCRIPT_NOTE)
            )
        if result.rowcount:
            changed.append(format_id(number))
    if changed:
        checkpoint(engine)
    return changed
