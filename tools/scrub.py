"""Mask the secrets already stored in a tracker store and a ticket database (data kept before masking).

    make scrub                                    # the running bot's stores (as tools.purge)
    make scrub ARGS="--dry-run"                   # count what would change, change nothing
    .venv/bin/python -m tools.scrub --tracker-db-url postgresql://u@h/db --tickets-db-url sqlite:///t.db

Tracker store: every `events` row's event JSON, masked by stores.masking.mask_event (the function
the tracker store masks new events with; stores/scrub.py). Tickets: description, `.eml` answer,
transcript and staff comments, masked as tickets.store masks them (tickets/scrub.py). Any
SQLAlchemy URL. Only rows that masking changes are rewritten: a second run changes 0 rows.

Prints, per store, the rows read and changed, then `rows changed: N` in total. Exit codes as
tools.purge (tools/maintenance.py): 0 done, 1 a store failed, 2 usage or an invalid setting,
3 another purge or scrub holds the lock.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import List, Optional

from sqlalchemy.util import deprecations

from core.settings import SettingsError, get_settings
from stores.retention import TrackerStoreMissing, tracker_engine
from tickets.retention import TicketDatabaseMissing, open_engine
from tickets.scrub import scrub_tickets
from tools.maintenance import USAGE, run_step, worst


@dataclass
class Total:
    """Rows changed over the stores of one run."""

    changed: int = 0


def scrub_trackers(url: str, dry_run: bool, total: Total) -> str:
    """Mask the tracker store's events; the line to print."""
    # Importing Rasa's tracker store prints SQLAlchemy's "2.0 deprecated API" banner to stderr, bypassing the
    # warnings filters; from cron that is a mail a day. This command is not where that gets fixed.
    deprecations.SILENCE_UBER_WARNING = True
    from stores.scrub import scrub_events

    engine = tracker_engine(url)
    try:
        result = scrub_events(engine, dry_run=dry_run)
    finally:
        engine.dispose()
    total.changed += result.changed
    verb = "would change" if dry_run else "changed"
    line = f"{verb} {result.changed} of {result.rows} events row(s)"
    return line + (f" ({result.unreadable} not an event's JSON, left alone)" if result.unreadable else "")


def scrub_ticket_database(url: str, dry_run: bool, total: Total) -> str:
    """Mask the ticket database's free text; the line to print."""
    engine = open_engine(url)
    try:
        result = scrub_tickets(engine, dry_run=dry_run)
    finally:
        engine.dispose()
    total.changed += result.changed
    verb = "would change" if dry_run else "changed"
    return (
        f"{verb} {result.tickets_changed} of {result.tickets} tickets row(s)"
        f" and {result.comments_changed} of {result.comments} comment row(s) (ticket_events)"
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.scrub", description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="count what would change, change nothing")
    parser.add_argument("--tracker-db-url", help="tracker store SQLAlchemy URL (default: as the running bot's)")
    parser.add_argument("--tickets-db-url", help="ticket database SQLAlchemy URL (default: TICKETS_DB_URL's rule)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--trackers-only", action="store_true", help="only the tracker store")
    only.add_argument("--tickets-only", action="store_true", help="only the ticket database")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"scrub: {error}", file=sys.stderr)
        return USAGE
    total = Total()
    codes = []
    if not args.tickets_only:
        url = args.tracker_db_url or settings.tracker_database_url()
        codes.append(
            run_step(
                "trackers", url, "trackers", lambda: scrub_trackers(url, args.dry_run, total), (TrackerStoreMissing,)
            )
        )
    if not args.trackers_only:
        url_t = args.tickets_db_url or settings.tickets_database_url()
        codes.append(
            run_step(
                "tickets",
                url_t,
                "tickets",
                lambda: scrub_ticket_database(url_t, args.dry_run, total),
                (TicketDatabaseMissing,),
            )
        )
    print(f"rows {'that would change' if args.dry_run else 'changed'}: {total.changed}")
    return worst(codes)


if __name__ == "__main__":
    sys.exit(main())
