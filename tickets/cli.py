"""Staff command line for the ticket store: list, show, assign, change status, comment; and, with a
helpdesk backend (TICKET_BACKEND), the outbox: `outbox` (what waits), `deliver`, `backend-check`.

Run as `python -m tickets.cli [--db-url URL] COMMAND ...`. Exit codes: 0 success, 2 bad usage,
3 ticket not found, 4 change not allowed, 5 database unavailable.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence

from sqlalchemy.exc import ArgumentError

from core.settings import Settings, SettingsError, get_settings
from tickets.store import (
    QUEUES,
    STATUSES,
    InvalidChange,
    StoreUnavailable,
    Ticket,
    TicketNotFound,
    TicketStore,
    format_id,
)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_INVALID = 4
EXIT_UNAVAILABLE = 5

MAX_NAME_LENGTH = 128  # the width of the author and assignee columns
PROG = "python -m tickets.cli"

# C0/C1 control characters and DEL: ticket text comes from end users and must not drive the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class UsageError(Exception):
    """A problem with the command line that argparse itself does not catch."""


# -- formatting ------------------------------------------------------------------------------------
def clean(value: Any, one_line: bool = True) -> str:
    """Printable text: control characters escaped, newlines flattened when `one_line`."""
    if value is None:
        return ""
    text = str(value)
    if one_line:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", " ⏎ ").replace("\t", " ")
    else:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(
        lambda match: f"\\x{ord(match.group()):02x}" if ord(match.group()) < 0x100 else f"\\u{ord(match.group()):04x}",
        text,
    )


def shorten(text: str, width: int) -> str:
    """`text` cut to `width` characters with an ellipsis."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def when(value: datetime) -> str:
    """A timestamp in UTC, to the minute."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def table(tickets: Sequence[Ticket]) -> str:
    """The tickets as an aligned text table."""
    headers = ["ID", "STATUS", "PRIORITY", "QUEUE", "ASSIGNEE", "PROBLEM", "UPDATED"]
    rows = [
        [
            t.id,
            clean(t.status),
            clean(t.priority),
            clean(t.queue),
            shorten(clean(t.assignee) or "-", 20),
            shorten(clean(t.problem) or "-", 32),
            when(t.updated_at),
        ]
        for t in tickets
    ]
    widths = [max(len(row[i]) for row in [headers] + rows) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [headers] + rows]
    return "\n".join(lines)


def summary(ticket: Ticket) -> str:
    """A few lines naming the ticket's state and its latest event."""
    lines = [
        f"{ticket.id}  {clean(ticket.status)}  priority {clean(ticket.priority)}  queue {clean(ticket.queue)}",
        f"  assignee: {clean(ticket.assignee) or '-'}",
        f"  problem:  {clean(ticket.problem) or '-'}",
        f"  updated:  {when(ticket.updated_at)}",
    ]
    if ticket.events:
        last = ticket.events[-1]
        lines.append(f"  last:     {clean(last.kind)} by {clean(last.author)}: {clean(last.detail)}")
    return "\n".join(lines)


def details(ticket: Ticket) -> str:
    """Every field, then the event history, then the transcript."""
    postmaster = {None: "unknown", True: "yes", False: "no"}[ticket.is_postmaster]
    fields = [
        ("id", ticket.id),
        ("status", ticket.status),
        ("priority", ticket.priority),
        ("queue", ticket.queue),
        ("assignee", ticket.assignee or "-"),
        ("created", when(ticket.created_at)),
        ("updated", when(ticket.updated_at)),
        ("problem", ticket.problem or "-"),
        ("error code", ticket.error_code or "-"),
        ("steps tried", ", ".join(clean(s) for s in ticket.steps_tried) or "-"),
        ("postmaster", postmaster),
        ("contact", ticket.contact_email),
        ("language", ticket.language),
        ("channel", ticket.channel),
        ("sender", ticket.sender_id),
    ]
    lines = [f"{name + ':':<13}{clean(value)}" for name, value in fields]
    lines += _block("description", ticket.description)
    if ticket.eml_delivery:
        lines += _block("eml delivery", ticket.eml_delivery)
    lines += ["", "Events:"]
    if not ticket.events:
        lines.append("  (none)")
    for event in ticket.events:
        lines.append(
            f"  {when(event.created_at)}  {clean(event.kind):<8} {clean(event.author)}: "
            f"{_indent(clean(event.detail, one_line=False), 6)}"
        )
    lines += ["", "Transcript:"]
    if not ticket.transcript:
        lines.append("  (empty)")
    for turn in ticket.transcript:
        who = clean(turn.get("who", "?")) if isinstance(turn, dict) else "?"
        text = turn.get("text", "") if isinstance(turn, dict) else turn
        lines.append(f"  {who}: {_indent(clean(text, one_line=False), 4)}")
    return "\n".join(lines)


def _block(title: str, text: Optional[str]) -> List[str]:
    return ["", f"{title.capitalize()}:", "  " + _indent(clean(text, one_line=False) or "-", 2)]


def _indent(text: str, spaces: int) -> str:
    return text.replace("\n", "\n" + " " * spaces)


def listing_dict(ticket: Ticket) -> Dict[str, Any]:
    """The ticket's JSON form without the transcript (as in the HTTP API's list)."""
    data = ticket.to_dict()
    data.pop("transcript", None)
    return data


def emit_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


# -- arguments -------------------------------------------------------------------------------------
def ticket_id(value: str) -> str:
    """Accept `ALM-000042`, `alm-42` or a bare `42`."""
    value = value.strip()
    return format_id(int(value)) if value.isdigit() else value


def name(value: str) -> str:
    """A non-empty staff name that fits the database column."""
    value = value.strip()
    if not value:
        raise argparse.ArgumentTypeError("must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise argparse.ArgumentTypeError(f"at most {MAX_NAME_LENGTH} characters")
    return value


def positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def default_author(settings: Settings) -> str:
    """$USER when it is a usable name, else "staff"."""
    try:
        return name(settings.user or "staff")
    except argparse.ArgumentTypeError:
        return "staff"


def build_parser(settings: Optional[Settings] = None) -> argparse.ArgumentParser:
    """The argument parser; `--db-url` is accepted before or after the command."""
    author = default_author(settings or get_settings())
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db-url",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="ticket database (default: TICKETS_DB_URL, else as in the README's Settings table)",
    )
    parser = argparse.ArgumentParser(prog=PROG, description="Look at and work on support tickets.", parents=[common])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser("list", parents=[common], help="list tickets, newest first")
    p.add_argument("--queue", choices=QUEUES)
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--limit", type=positive, default=200, help="at most this many (default 200)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = commands.add_parser("show", parents=[common], help="all fields, history and transcript of a ticket")
    p.add_argument("id", type=ticket_id, metavar="ID")
    p.add_argument("--json", action="store_true")

    by_help = "who makes the change (default: $USER or 'staff')"
    p = commands.add_parser("assign", parents=[common], help="assign a ticket to someone")
    p.add_argument("id", type=ticket_id, metavar="ID")
    p.add_argument("assignee", type=name, metavar="NAME")
    p.add_argument("--by", type=name, default=author, help=by_help)
    p.add_argument("--json", action="store_true")

    p = commands.add_parser("status", parents=[common], help="change a ticket's status")
    p.add_argument("id", type=ticket_id, metavar="ID")
    p.add_argument("status", choices=STATUSES, metavar="STATUS", help=" | ".join(STATUSES))
    p.add_argument("--by", type=name, default=author, help=by_help)
    p.add_argument("--json", action="store_true")

    p = commands.add_parser("comment", parents=[common], help="add a comment to a ticket")
    p.add_argument("id", type=ticket_id, metavar="ID")
    p.add_argument("text", nargs="+", metavar="TEXT", help="the comment (several words are joined)")
    p.add_argument("--by", type=name, default=author, help=by_help)
    p.add_argument("--json", action="store_true")

    # Issue 16: the outbox of a helpdesk backend (TICKET_BACKEND), see tickets/outbox.py.
    p = commands.add_parser("outbox", parents=[common], help="what has not reached the helpdesk yet")
    p.add_argument("--all", action="store_true", help="delivered rows too")
    p.add_argument("--retry", type=ticket_id, metavar="ID", help="make a ticket's waiting or rejected rows due now")
    p.add_argument("--json", action="store_true")
    p = commands.add_parser("deliver", parents=[common], help="send what is due in the outbox to the helpdesk")
    p.add_argument("--loop", action="store_true", help="keep going (the worker, when TICKET_OUTBOX_WORKER=false)")
    commands.add_parser("backend-check", parents=[common], help="does the configured ticket backend answer?")
    return parser


def outbox_table(rows: Sequence[Any]) -> str:
    """Outbox rows (tickets.outbox.Delivery) as an aligned text table."""
    headers = ["TICKET", "KIND", "BACKEND", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "QUEUED", "LAST ERROR"]
    lines = [
        [
            d.ticket_id,
            d.kind,
            d.backend,
            d.state,
            str(d.attempts),
            when(d.next_attempt_at) if d.state == "pending" else "—",
            when(d.created_at),
            shorten(clean(d.last_error or ""), 60),
        ]
        for d in rows
    ]
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(headers)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [headers] + lines)


def outbox_dict(d: Any) -> Dict[str, Any]:
    return {
        "ticket": d.ticket_id,
        "kind": d.kind,
        "backend": d.backend,
        "state": d.state,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at.isoformat(),
        "created_at": d.created_at.isoformat(),
        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
        "last_error": d.last_error,
    }


def run_desk(args: argparse.Namespace, store: TicketStore) -> int:
    """outbox / deliver / backend-check: the store with the backend of the settings."""
    from tickets.backends import make_backend
    from tickets.delivery_worker import run_forever
    from tickets.outbox import TicketDesk

    settings = get_settings()
    desk = TicketDesk(store, make_backend(settings, store), settings)
    if args.command == "backend-check":
        health = desk.backend.health()
        latency = f" in {health.latency_ms:.0f} ms" if health.latency_ms is not None else ""
        print(f"{desk.backend.name}: {'ok' if health.ok else 'NOT OK'}: {clean(health.detail)}{latency}")
        return EXIT_OK if health.ok else EXIT_UNAVAILABLE
    if args.command == "deliver":
        if args.loop:
            run_forever(desk, settings.ticket_outbox_interval)
        counts = desk.deliver_due()
        print(", ".join(f"{key} {value}" for key, value in counts.items()))
        return EXIT_OK
    if args.retry:
        changed = desk.retry(args.retry)
        print(f"{args.retry}: {changed} row(s) due now")
    rows = desk.deliveries() if args.all else desk.waiting()
    if args.json:
        emit_json([outbox_dict(d) for d in rows])
    elif not rows:
        print(f"Nothing waits for the helpdesk (TICKET_BACKEND={settings.ticket_backend}).")
    else:
        print(outbox_table(rows))
    return EXIT_OK


# -- commands --------------------------------------------------------------------------------------
def open_store(url: Optional[str]) -> TicketStore:
    """A store on `url` (default: the ticket database of the settings); a malformed URL is a usage error."""
    try:
        return TicketStore(url)
    except ArgumentError as error:  # includes NoSuchModuleError (unknown dialect)
        raise UsageError(f"invalid --db-url: {error}") from error
    except ImportError as error:  # the URL's database driver is not installed
        raise StoreUnavailable(f"database driver missing: {error}") from error


def run(args: argparse.Namespace) -> int:
    """Carry out the parsed command; store errors propagate to `main`."""
    store = open_store(getattr(args, "db_url", None))
    if args.command in ("outbox", "deliver", "backend-check"):
        return run_desk(args, store)
    if args.command == "list":
        found = store.list(queue=args.queue, status=args.status, limit=args.limit)
        if args.json:
            emit_json([listing_dict(t) for t in found])
        elif not found:
            print("No tickets.")
        else:
            print(table(found))
            if len(found) == args.limit:
                print(f"(showing the {args.limit} most recent; use --limit, --queue or --status)")
        return EXIT_OK

    if args.command == "show":
        ticket = store.get(args.id)
        if args.json:
            emit_json(ticket.to_dict())
        else:
            print(details(ticket))
        return EXIT_OK

    if args.command == "assign":
        ticket = store.assign(args.id, args.assignee, author=args.by)
    elif args.command == "status":
        ticket = store.set_status(args.id, args.status, author=args.by)
    elif args.command == "comment":
        ticket = store.comment(args.id, " ".join(args.text), author=args.by)
    else:  # pragma: no cover - argparse only allows the commands above
        raise UsageError(f"unknown command {args.command!r}")
    if args.json:
        emit_json(ticket.to_dict())
    else:
        print(summary(ticket))
    return EXIT_OK


def _first_line(error: BaseException) -> str:
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return clean(text.strip().splitlines()[0] if text.strip() else type(error).__name__)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")  # e.g. "→" on an ASCII terminal
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    parser = build_parser(settings)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: {_first_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    except TicketNotFound as error:
        print(f"error: ticket {_first_line(error)} not found", file=sys.stderr)
        return EXIT_NOT_FOUND
    except InvalidChange as error:
        print(f"error: {_first_line(error)}", file=sys.stderr)
        return EXIT_INVALID
    except StoreUnavailable as error:
        print(f"error: ticket database unavailable: {_first_line(error)}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except BrokenPipeError:  # e.g. `list | head`
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
