"""Retention: delete old conversations from the tracker store and old transcripts from closed tickets.

    make purge                                   # or: .venv/bin/python -m tools.purge
    make purge ARGS="--dry-run"                  # say what would be deleted, delete nothing
    0 3 * * * make -C /srv/alimail purge         # cron: no prompts, one line per store

- Conversations whose LAST event is older than CONVERSATION_RETENTION_DAYS (default 90) are deleted
  from the SQL tracker store, all their events (stores/retention.py). The store is the running bot's:
  TRACKER_DB_URL if set, else the production profile's PostgreSQL or var/trackers.sqlite3
  (`Settings.tracker_database_url`).
- Closed tickets' transcripts are replaced by a note TICKET_TRANSCRIPT_RETENTION_DAYS (default 30)
  after closing; the tickets stay (tickets/retention.py). The ticket database is the usual one
  (`Settings.tickets_database_url`).

Prints what it deleted. Idempotent; two runs at once are safe. Exit codes in tools/maintenance.py:
0 done, 1 a store failed, 2 usage or an invalid setting, 3 another purge or scrub holds the lock.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import List, Optional

from core.settings import SettingsError, get_settings
from stores.retention import TrackerStoreMissing, purge_conversations, tracker_engine
from tickets.retention import TicketDatabaseMissing, expire_transcripts, open_engine
from tools.maintenance import USAGE, run_step, worst

MAX_IDS_SHOWN = 50


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def purge_trackers(url: str, days: int, dry_run: bool, now: datetime) -> str:
    """Delete (or count) the expired conversations; the line to print."""
    cutoff = now - timedelta(days=days)
    engine = tracker_engine(url)
    try:
        result = purge_conversations(engine, cutoff.timestamp(), dry_run=dry_run)
    finally:
        engine.dispose()
    verb = "would delete" if dry_run else "deleted"
    return (
        f"{verb} {result.conversations} conversation(s), {result.events} event(s),"
        f" whose last event is before {_when(cutoff)} ({days} days)"
    )


def purge_transcripts(url: str, days: int, dry_run: bool, now: datetime) -> str:
    """Replace (or list) the expired transcripts of closed tickets; the line to print."""
    cutoff = now - timedelta(days=days)
    engine = open_engine(url)
    try:
        ids = expire_transcripts(engine, cutoff, dry_run=dry_run)
    finally:
        engine.dispose()
    verb = "would delete" if dry_run else "deleted"
    shown = ", ".join(ids[:MAX_IDS_SHOWN]) + (
        f", … ({len(ids) - MAX_IDS_SHOWN} more)" if len(ids) > MAX_IDS_SHOWN else ""
    )
    return f"{verb} the transcripts of {len(ids)} ticket(s) closed before {_when(cutoff)} ({days} days)" + (
        f": {shown}" if ids else ""
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.purge", description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    parser.add_argument("--tracker-db-url", help="tracker store SQLAlchemy URL (default: as the running bot's)")
    parser.add_argument("--tickets-db-url", help="ticket database SQLAlchemy URL (default: TICKETS_DB_URL's rule)")
    parser.add_argument("--conversation-days", type=int, help="default: CONVERSATION_RETENTION_DAYS (90)")
    parser.add_argument("--transcript-days", type=int, help="default: TICKET_TRANSCRIPT_RETENTION_DAYS (30)")
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
        print(f"purge: {error}", file=sys.stderr)
        return USAGE
    conversation_days = (
        settings.conversation_retention_days if args.conversation_days is None else args.conversation_days
    )
    transcript_days = (
        settings.ticket_transcript_retention_days if args.transcript_days is None else args.transcript_days
    )
    if min(conversation_days, transcript_days) < 1:
        print("purge: the number of days must be at least 1", file=sys.stderr)
        return USAGE
    now = datetime.fromtimestamp(time.time(), timezone.utc)
    codes = []
    if not args.tickets_only:
        url = args.tracker_db_url or settings.tracker_database_url()
        codes.append(
            run_step(
                "trackers",
                url,
                "trackers",
                lambda: purge_trackers(url, conversation_days, args.dry_run, now),
                (TrackerStoreMissing,),
            )
        )
    if not args.trackers_only:
        url_t = args.tickets_db_url or settings.tickets_database_url()
        codes.append(
            run_step(
                "tickets",
                url_t,
                "tickets",
                lambda: purge_transcripts(url_t, transcript_days, args.dry_run, now),
                (TicketDatabaseMissing,),
            )
        )
    return worst(codes)


if __name__ == "__main__":
    sys.exit(main())
