"""Mask the secrets already stored in a Rasa SQL tracker store (events written before masking existed).

Each row of `events` has its `data` (the event's JSON) passed through `stores.masking.mask_event`,
the function `MaskingSQLTrackerStore` masks new events with, so old and new rows follow one rule.
A row is rewritten only when masking changes the event; `sender_id`, `type_name`, `timestamp`,
`intent_name` and `action_name` stay as they are (labels, no typed text). Running it again changes
nothing.

Rows are read in pages by id and each page is rewritten in its own short transaction (see
`stores.retention.tracker_engine`). Every UPDATE is guarded by the row's old `data`, so a row
changed or deleted meanwhile (a purge, another scrub) is left alone and not counted: the count is
the number of rows this run changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from stores.masking import mask_event
from stores.retention import checkpoint, require_events_table

PAGE_ROWS = 500

_PAGE = sa.text("SELECT id, data FROM events WHERE id > :after ORDER BY id LIMIT :limit")
_UPDATE = sa.text("UPDATE events SET data = :new WHERE id = :id AND data = :old")


@dataclass(frozen=True)
class ScrubResult:
    """Rows read, rows changed (dry run: that would change), rows whose `data` is not an event's JSON."""

    rows: int
    changed: int
    unreadable: int


def _event(data: Optional[str]) -> Optional[Dict[str, Any]]:
    try:
        event = json.loads(data) if data else None
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def scrub_events(engine: Engine, dry_run: bool = False) -> ScrubResult:
    """Mask every stored event's `data`; returns the rows read and changed (`dry_run`: nothing is written)."""
    require_events_table(engine)
    rows = changed = unreadable = 0
    after = -1
    while True:
        with engine.connect() as connection:
            page = connection.execute(_PAGE, {"after": after, "limit": PAGE_ROWS}).all()
        if not page:
            break
        after = page[-1][0]
        rows += len(page)
        updates = []
        for row_id, data in page:
            event = _event(data)
            if event is None:
                unreadable += 1
                continue
            masked = mask_event(event)
            if masked != event:
                updates.append({"id": row_id, "old": data, "new": json.dumps(masked)})
        if dry_run:
            changed += len(updates)
        elif updates:
            with engine.begin() as connection:
                for update in updates:
                    changed += connection.execute(_UPDATE, update).rowcount
    if changed and not dry_run:
        checkpoint(engine)
    return ScrubResult(rows, changed, unreadable)
