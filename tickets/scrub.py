"""Mask the secrets already stored in a ticket database (tickets written before masking existed).

The free text the store masks as it writes (tickets.store) is masked the same way here, with the
same functions: a ticket's description and `.eml` answer (`mask_secrets`), its transcript (the
text of every line, `masked_transcript`) and staff comments (`ticket_events` of kind `comment`).
The contact email, ids, labels, steps and times are not user text the store masks, and stay.

Only rows that masking changes are rewritten, each UPDATE guarded by the old values, so running it
again changes nothing and a row changed meanwhile is left alone and not counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from sqlalchemy import select
from sqlalchemy.engine import Engine

from core.secrets import mask_secrets
from tickets.retention import checkpoint, require_ticket_tables
from tickets.schema import ticket_events, tickets
from tickets.store import masked_transcript

PAGE_ROWS = 200


@dataclass(frozen=True)
class TicketScrubResult:
    """Rows read and changed (dry run: that would change) in `tickets` and in `ticket_events` (comments)."""

    tickets: int
    tickets_changed: int
    comments: int
    comments_changed: int

    @property
    def changed(self) -> int:
        return self.tickets_changed + self.comments_changed


def _masked_text(value: Optional[str]) -> Optional[str]:
    return None if value is None else mask_secrets(value)


def _masked_transcript(value: str) -> str:
    """The transcript column with every line's text masked; unchanged when it is not a JSON list."""
    try:
        lines = json.loads(value)
    except ValueError:
        return mask_secrets(value)
    if not isinstance(lines, list):
        return value
    masked: List[Any] = [
        masked_transcript([line])[0]
        if isinstance(line, dict)
        else mask_secrets(line)
        if isinstance(line, str)
        else line
        for line in lines
    ]
    # The store writes ensure_ascii=False; an unchanged transcript keeps its bytes.
    return value if masked == lines else json.dumps(masked, ensure_ascii=False)


def masked_ticket(row: Dict[str, Any]) -> Dict[str, Any]:
    """The free-text columns of a `tickets` row that masking changes, with their masked values."""
    new = {
        "description": _masked_text(row["description"]),
        "eml_delivery": _masked_text(row["eml_delivery"]),
        "transcript": _masked_transcript(row["transcript"]),
    }
    return {column: value for column, value in new.items() if value != row[column]}


def scrub_tickets(engine: Engine, dry_run: bool = False) -> TicketScrubResult:
    """Mask the secrets in every ticket and staff comment; returns what was read and changed."""
    require_ticket_tables(engine)
    columns = [tickets.c.number, tickets.c.description, tickets.c.eml_delivery, tickets.c.transcript]
    read = changed = 0
    after = 0
    while True:
        with engine.connect() as connection:
            page = (
                connection.execute(
                    select(*columns).where(tickets.c.number > after).order_by(tickets.c.number).limit(PAGE_ROWS)
                )
                .mappings()
                .all()
            )
        if not page:
            break
        after = page[-1]["number"]
        read += len(page)
        updates = [(row, masked_ticket(dict(row))) for row in page]
        updates = [(row, values) for row, values in updates if values]
        if dry_run:
            changed += len(updates)
            continue
        for row, values in updates:
            guard = [tickets.c[column] == row[column] for column in values]  # none is NULL: masking a NULL gives NULL
            with engine.begin() as connection:
                result = connection.execute(
                    tickets.update().where(tickets.c.number == row["number"], *guard).values(**values)
                )
            changed += result.rowcount
    comments, comments_changed = _scrub_comments(engine, dry_run)
    if (changed or comments_changed) and not dry_run:
        checkpoint(engine)
    return TicketScrubResult(read, changed, comments, comments_changed)


def _scrub_comments(engine: Engine, dry_run: bool) -> tuple[int, int]:
    read = changed = 0
    after = 0
    while True:
        with engine.connect() as connection:
            page = connection.execute(
                select(ticket_events.c.id, ticket_events.c.detail)
                .where(ticket_events.c.id > after, ticket_events.c.kind == "comment")
                .order_by(ticket_events.c.id)
                .limit(PAGE_ROWS)
            ).all()
        if not page:
            break
        after = page[-1][0]
        read += len(page)
        updates = [(event_id, detail, mask_secrets(detail)) for event_id, detail in page]
        updates = [update for update in updates if update[2] != update[1]]
        if dry_run:
            changed += len(updates)
            continue
        with engine.begin() as connection:
            for event_id, old, new in updates:
                changed += connection.execute(
                    ticket_events.update()
                    .where(ticket_events.c.id == event_id, ticket_events.c.detail == old)
                    .values(detail=new)
                ).rowcount
    return read, changed
