"""Ticket storage through SQLAlchemy, in the database `core.settings` names (TICKETS_DB_URL; SQLite by default)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, overload

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.sql import Select

from core.secrets import mask_secrets
from core.settings import Settings, get_settings
from tickets.schema import migrate, ticket_events, ticket_outbox, tickets

ID_PREFIX = "ALM-"
MAX_NUMBER = 2**31 - 1  # the tickets.number column is a 32-bit INTEGER on PostgreSQL

STATUSES = ("open", "in_progress", "resolved", "closed")
# open → in_progress → resolved/closed; a resolved ticket can be reopened or closed.
TRANSITIONS = {
    "open": {"in_progress", "resolved", "closed"},
    "in_progress": {"resolved", "closed"},
    "resolved": {"in_progress", "closed"},
    "closed": set(),
}
QUEUES = ("postmaster", "support")
MAX_NAME = 128  # width of the author and assignee columns
MAX_COMMENT = 4000  # characters of a staff comment (users read the latest one in chat)
USER_AUTHOR = "requester"  # the author of the ticket owner's own comments (issue 16)


class StoreUnavailable(RuntimeError):
    """The ticket database cannot be reached or refused the operation."""


class TicketNotFound(KeyError):
    """No such ticket (or not visible to the asker)."""


class InvalidChange(ValueError):
    """A change that the ticket's state does not allow."""


def format_id(number: int) -> str:
    return f"{ID_PREFIX}{number:06d}"


def remote_key(number: int, idempotency_key: str) -> str:
    """The idempotency key a helpdesk gets for a ticket: its local id and a digest of the conversation's
    key (`ALM-000042-1f3a…`): unique, no user data (the conversation's key holds the sender id)."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:12]
    return f"{format_id(number)}-{digest}"


def parse_id(ticket_id: str) -> Optional[int]:
    """`ALM-000042` (any case, surrounding spaces) → 42; None when it is not a ticket id."""
    value = (ticket_id or "").strip().upper()
    digits = value[len(ID_PREFIX) :]
    # ASCII digits only ("²".isdigit() is True but int() rejects it), and within the id column's
    # range, so that an absurd id is "not found" instead of a database overflow error.
    if not value.startswith(ID_PREFIX) or not digits.isascii() or not digits.isdigit():
        return None
    number = int(digits)
    return number if number <= MAX_NUMBER else None


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class NewTicket:
    """What the conversation collected."""

    idempotency_key: str
    priority: str
    queue: str
    contact_email: str
    description: str
    channel: str
    sender_id: str
    problem: Optional[str] = None
    error_code: Optional[str] = None
    steps_tried: List[str] = field(default_factory=list)
    is_postmaster: Optional[bool] = None
    eml_delivery: Optional[str] = None
    language: str = "en"
    transcript: List[Dict[str, str]] = field(default_factory=list)


@dataclass
class TicketEvent:
    created_at: datetime
    author: str
    kind: str
    detail: str


@dataclass
class Ticket:
    number: int
    created_at: datetime
    updated_at: datetime
    status: str
    priority: str
    queue: str
    assignee: Optional[str]
    problem: Optional[str]
    error_code: Optional[str]
    steps_tried: List[str]
    is_postmaster: Optional[bool]
    contact_email: str
    description: str
    eml_delivery: Optional[str]
    language: str
    channel: str
    sender_id: str
    transcript: List[Dict[str, str]]
    events: List[TicketEvent] = field(default_factory=list)

    @property
    def id(self) -> str:
        return format_id(self.number)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready form, used by the HTTP API and notifications."""
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "status": self.status,
            "priority": self.priority,
            "queue": self.queue,
            "assignee": self.assignee,
            "problem": self.problem,
            "error_code": self.error_code,
            "steps_tried": self.steps_tried,
            "is_postmaster": self.is_postmaster,
            "contact_email": self.contact_email,
            "description": self.description,
            "eml_delivery": self.eml_delivery,
            "language": self.language,
            "channel": self.channel,
            "sender_id": self.sender_id,
            "transcript": self.transcript,
            "events": [
                {"created_at": e.created_at.isoformat(), "author": e.author, "kind": e.kind, "detail": e.detail}
                for e in self.events
            ],
        }

    def latest_comment(self) -> Optional[TicketEvent]:
        comments = [e for e in self.events if e.kind == "comment"]
        return comments[-1] if comments else None


def masked_transcript(lines: List[Dict[str, str]]) -> List[Dict[str, str]]:
    """The transcript with every line's text masked (core.ticket_draft masks it too; the store relies on no one)."""
    return [{**line, "text": mask_secrets(str(line["text"]))} if "text" in line else dict(line) for line in lines]


def _checked_text(what: str, value: str, limit: int) -> str:
    """`value` without surrounding spaces; InvalidChange when empty, longer than `limit` or holding NUL
    (which PostgreSQL can't store)."""
    text = value.strip()
    if not text:
        raise InvalidChange(f"{what} must not be empty")
    if len(text) > limit:
        raise InvalidChange(f"{what} is longer than {limit} characters")
    if "\x00" in text:
        raise InvalidChange(f"{what} must not contain NUL characters")
    return text


@overload
def as_utc(value: datetime) -> datetime: ...


@overload
def as_utc(value: None) -> None: ...


def as_utc(value: Optional[datetime]) -> Optional[datetime]:
    """A time read from the ticket database, timezone-aware: SQLite returns naive datetimes, and
    everything is stored in UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _postmaster_flag(value: Optional[bool]) -> Optional[str]:
    return None if value is None else ("yes" if value else "no")


def database_url(settings: Optional[Settings] = None) -> str:
    """The ticket database of the settings (Settings.tickets_database_url: TICKETS_DB_URL, else the
    tracker database in the production profile, else the SQLite file under var/)."""
    return (settings or get_settings()).tickets_database_url()


def _enable_wal(dbapi_connection: sqlite3.Connection, timeout_seconds: float) -> None:
    """Switch an SQLite database to WAL (a persistent setting of the file).

    Switching needs an exclusive lock and SQLite reports "database is locked" at once, without
    waiting through busy_timeout, while another connection uses a database that is not yet in
    WAL mode (several processes or threads opening a new file). So: skip when already WAL, and
    otherwise retry until the timeout.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        cursor = dbapi_connection.cursor()
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error) or time.monotonic() > deadline:
                raise
        finally:
            cursor.close()
        time.sleep(0.01)


def make_engine(url: str, timeout_seconds: float = 5.0) -> Engine:
    """An engine that several processes can share the database through."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass  # connecting fails later and is reported as StoreUnavailable
        engine = create_engine(
            url,
            connect_args={"timeout": max(timeout_seconds, 15.0), "check_same_thread": False},
            hide_parameters=True,  # database errors (logged, raised as StoreUnavailable) show no user text
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            _enable_wal(dbapi_connection, max(timeout_seconds, 15.0))  # readers don't block the writer

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            # Take the write lock at the start, so concurrent writers queue instead of failing.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    connect_args: Dict[str, Any] = {}
    if url.startswith("postgresql"):
        connect_args["connect_timeout"] = int(max(1, timeout_seconds))
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, hide_parameters=True)


class TicketStore:
    """Create, read and update tickets. Every method raises StoreUnavailable when the database fails."""

    def __init__(self, url: Optional[str] = None, timeout_seconds: float = 5.0) -> None:
        self.url = url or database_url()
        self.engine = make_engine(self.url, timeout_seconds)
        self._migrated = False

    def ping(self) -> None:
        """One `SELECT 1` on the ticket database; raises what the database raises (readiness, health)."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def ensure_schema(self) -> None:
        if not self._migrated:
            try:
                migrate(self.engine)
            except SQLAlchemyError as error:
                raise StoreUnavailable(str(error)) from error
            self._migrated = True

    def create(self, new: NewTicket, deliver_to: Optional[str] = None) -> Tuple[Ticket, bool]:
        """Store a ticket; returns (ticket, created). The same idempotency key returns the existing one.

        `deliver_to` (a helpdesk backend's name, issue 16): in the same transaction, put the ticket
        in the outbox (tickets/outbox.py) for that helpdesk, so it is stored and queued, or neither.
        """
        self.ensure_schema()
        stamp = now()
        row = {
            "idempotency_key": new.idempotency_key,
            "created_at": stamp,
            "updated_at": stamp,
            "status": "open",
            "priority": new.priority,
            "queue": new.queue,
            "assignee": None,
            "problem": new.problem,
            "error_code": new.error_code,
            "steps_tried": json.dumps(new.steps_tried, ensure_ascii=False),  # the guide's own words
            "is_postmaster": _postmaster_flag(new.is_postmaster),
            "contact_email": new.contact_email,
            # Free text the user typed: passwords and codes masked before they are stored (issue 12).
            # The contact email is a validated address, and masking digits would spoil 12345678@qq.com.
            "description": mask_secrets(new.description),
            "eml_delivery": None if new.eml_delivery is None else mask_secrets(new.eml_delivery),
            "language": new.language,
            "channel": new.channel,
            "sender_id": new.sender_id,
            "transcript": json.dumps(masked_transcript(new.transcript), ensure_ascii=False),
        }
        try:
            with self.engine.begin() as connection:
                number = connection.execute(tickets.insert().values(**row)).inserted_primary_key[0]
                connection.execute(
                    ticket_events.insert().values(
                        ticket_number=number,
                        created_at=stamp,
                        author="assistant",
                        kind="created",
                        detail=f"opened from {new.channel}",
                    )
                )
                if deliver_to:
                    connection.execute(
                        ticket_outbox.insert().values(
                            ticket_number=number,
                            kind="create",
                            backend=deliver_to,
                            idempotency_key=remote_key(number, new.idempotency_key),
                            state="pending",
                            attempts=0,
                            next_attempt_at=stamp,
                            created_at=stamp,
                        )
                    )
            return self._get(number), True
        except IntegrityError as error:
            existing = self._find_by_key(new.idempotency_key)
            if existing is None:
                raise StoreUnavailable(str(error)) from error
            return existing, False
        except SQLAlchemyError as error:
            raise StoreUnavailable(str(error)) from error

    def get(self, ticket_id: str) -> Ticket:
        number = parse_id(ticket_id)
        if number is None:
            raise TicketNotFound(ticket_id)
        return self._get(number)

    def get_for_sender(self, ticket_id: str, sender_id: str, channel: str) -> Ticket:
        """The ticket only if this sender opened it on this channel; otherwise TicketNotFound."""
        ticket = self.get(ticket_id)
        if ticket.sender_id != sender_id or ticket.channel != channel:
            raise TicketNotFound(ticket_id)
        return ticket

    def list_for_sender(self, sender_id: str, channel: str) -> List[Ticket]:
        query = select(tickets).where(tickets.c.sender_id == sender_id, tickets.c.channel == channel)
        return self._list(query.order_by(tickets.c.number.desc()))

    def list(self, queue: Optional[str] = None, status: Optional[str] = None, limit: int = 200) -> List[Ticket]:
        query = select(tickets)
        if queue:
            query = query.where(tickets.c.queue == queue)
        if status:
            query = query.where(tickets.c.status == status)
        return self._list(query.order_by(tickets.c.number.desc()).limit(limit))

    def set_status(self, ticket_id: str, status: str, author: str) -> Ticket:
        return self.update(ticket_id, author, status=status)

    def assign(self, ticket_id: str, assignee: str, author: str) -> Ticket:
        return self.update(ticket_id, author, assignee=assignee)

    def comment(self, ticket_id: str, text: str, author: str) -> Ticket:
        return self.update(ticket_id, author, comment=text)

    def user_comment(self, ticket_id: str, text: str) -> Ticket:
        """Record a comment from the ticket's owner (event kind `user_comment`, author `requester`,
        masked): staff see it in the history; the user's status answer keeps showing staff notes only."""
        note = mask_secrets(_checked_text("comment", text, MAX_COMMENT))
        return self._update(ticket_id, USER_AUTHOR, lambda ticket: ({}, [("user_comment", note)]))

    def update(
        self,
        ticket_id: str,
        author: str,
        *,
        status: Optional[str] = None,
        assignee: Optional[str] = None,
        comment: Optional[str] = None,
    ) -> Ticket:
        """Change the status, the assignee and/or add a comment, in one transaction: every change is
        recorded (events in that order, one timestamp) or none is. Raises InvalidChange (a value or a
        transition that is not allowed), TicketNotFound or StoreUnavailable, having changed nothing."""
        if status is None and assignee is None and comment is None:
            raise InvalidChange("nothing to change: give a status, an assignee and/or a comment")
        if status is not None and status not in STATUSES:
            raise InvalidChange(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
        new_assignee = None if assignee is None else _checked_text("assignee", assignee, MAX_NAME)
        # Staff may paste what the user wrote: masked like the user's own text.
        note = None if comment is None else mask_secrets(_checked_text("comment", comment, MAX_COMMENT))

        def change(ticket: Ticket) -> Tuple[Dict[str, Any], List[Tuple[str, str]]]:
            values: Dict[str, Any] = {}
            events: List[Tuple[str, str]] = []
            if status is not None:
                if status == ticket.status:
                    raise InvalidChange(f"{ticket.id} is already {status}")
                if status not in TRANSITIONS[ticket.status]:
                    raise InvalidChange(f"{ticket.id} can't go from {ticket.status} to {status}")
                values["status"] = status
                events.append(("status", f"{ticket.status} → {status}"))
            if new_assignee is not None:
                values["assignee"] = new_assignee
                events.append(("assign", new_assignee))
            if note is not None:
                events.append(("comment", note))
            return values, events

        return self._update(ticket_id, author, change)

    # -- internals -------------------------------------------------------------
    def _update(
        self,
        ticket_id: str,
        author: str,
        change: Callable[[Ticket], Tuple[Dict[str, Any], List[Tuple[str, str]]]],
    ) -> Ticket:
        """Lock the ticket's row, apply `change` (→ column values, [(event kind, detail)]) and record
        its events, all in one transaction; any exception leaves the ticket as it was."""
        if not author or len(author) > MAX_NAME or "\x00" in author:
            raise InvalidChange(f"author must be 1 to {MAX_NAME} characters")
        number = parse_id(ticket_id)
        if number is None:
            raise TicketNotFound(ticket_id)
        self.ensure_schema()
        try:
            with self.engine.begin() as connection:
                # FOR UPDATE: concurrent changes see each other's result (SQLite: BEGIN IMMEDIATE does it).
                row = (
                    connection.execute(select(tickets).where(tickets.c.number == number).with_for_update())
                    .mappings()
                    .first()
                )
                if row is None:
                    raise TicketNotFound(ticket_id)
                values, events = change(self._ticket(row, []))
                stamp = now()
                connection.execute(
                    tickets.update().where(tickets.c.number == number).values(updated_at=stamp, **values)
                )
                for kind, detail in events:
                    connection.execute(
                        ticket_events.insert().values(
                            ticket_number=number, created_at=stamp, author=author, kind=kind, detail=detail
                        )
                    )
        except SQLAlchemyError as error:
            raise StoreUnavailable(str(error)) from error
        return self._get(number)

    def _find_by_key(self, key: str) -> Optional[Ticket]:
        rows = self._list(select(tickets).where(tickets.c.idempotency_key == key))
        return rows[0] if rows else None

    def _get(self, number: int) -> Ticket:
        rows = self._list(select(tickets).where(tickets.c.number == number))
        if not rows:
            raise TicketNotFound(format_id(number))
        return rows[0]

    def _list(self, query: Select) -> List[Ticket]:
        self.ensure_schema()
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(query).mappings().all()
                numbers = [row["number"] for row in rows]
                events: Dict[int, List[TicketEvent]] = {n: [] for n in numbers}
                if numbers:
                    for e in connection.execute(
                        select(ticket_events)
                        .where(ticket_events.c.ticket_number.in_(numbers))
                        .order_by(ticket_events.c.id)
                    ).mappings():
                        events[e["ticket_number"]].append(
                            TicketEvent(as_utc(e["created_at"]), e["author"], e["kind"], e["detail"])
                        )
        except SQLAlchemyError as error:
            raise StoreUnavailable(str(error)) from error
        return [self._ticket(row, events[row["number"]]) for row in rows]

    @staticmethod
    def _ticket(row: Mapping[str, Any], events: List[TicketEvent]) -> Ticket:
        flag = row["is_postmaster"]
        return Ticket(
            number=row["number"],
            created_at=as_utc(row["created_at"]),
            updated_at=as_utc(row["updated_at"]),
            status=row["status"],
            priority=row["priority"],
            queue=row["queue"],
            assignee=row["assignee"],
            problem=row["problem"],
            error_code=row["error_code"],
            steps_tried=json.loads(row["steps_tried"]),
            is_postmaster=None if flag is None else flag == "yes",
            contact_email=row["contact_email"],
            description=row["description"],
            eml_delivery=row["eml_delivery"],
            language=row["language"],
            channel=row["channel"],
            sender_id=row["sender_id"],
            transcript=json.loads(row["transcript"]),
            events=events,
        )
