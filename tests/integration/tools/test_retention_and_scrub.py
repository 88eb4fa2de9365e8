"""`python -m tools.scrub` and `python -m tools.purge` as commands, on SQLite files and the machine's PostgreSQL.

The data is what the code before masking wrote: conversations through Rasa's plain
SQLTrackerStore, tickets through the ticket store's INSERTs without masking (tests/unmasked_rows.py).
PostgreSQL: postgresql://postgres@127.0.0.1:5432/test, each test in a throw-away schema, dropped after.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.local_stores import POSTGRES_URL, require_postgres
from tests.unmasked_rows import DAY, MESSAGES, insert_ticket, plain_store, save_conversation, secrets_in
from tickets.store import TicketStore
from tools.maintenance import BUSY, _lock_key

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Database:
    """One database for both stores (as the production profile has it), and how to read it back."""

    url: str
    tmp_path: Path

    def plain_tracker_store(self):  # type: ignore[no-untyped-def]
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            return plain_store(dialect="sqlite", db=parsed.database)
        return plain_store(
            dialect="postgresql",
            host=parsed.host,
            port=parsed.port,
            db=parsed.database,
            username=parsed.username,
            query=dict(parsed.query),
        )

    def tables(self) -> Dict[str, Dict[int, tuple]]:
        """Every row of the three tables, by primary key."""
        engine = sa.create_engine(self.url)
        found = {}
        with engine.connect() as connection:
            for table, key in (("events", "id"), ("tickets", "number"), ("ticket_events", "id")):
                rows = connection.execute(sa.text(f"SELECT * FROM {table} ORDER BY {key}")).all()
                found[table] = {row[0]: tuple(row) for row in rows}
        engine.dispose()
        return found

    def text(self) -> bytes:
        return repr(self.tables()).encode("utf-8")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        yield Database(f"sqlite:///{tmp_path / 'alimail.sqlite3'}", tmp_path)
        return
    require_postgres()
    schema = f"retention_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Database(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", tmp_path)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def fill(database: Database, ages_in_days: Tuple[int, ...] = (1,)) -> None:
    """One conversation per age with every message, and per message a ticket quoting it, closed 40 days ago."""
    store = database.plain_tracker_store()
    for age in ages_in_days:
        save_conversation(store, f"age-{age}", MESSAGES, at=time.time() - age * DAY)
    store.engine.dispose()
    tickets = TicketStore(database.url)
    tickets.ensure_schema()
    closed = datetime.now(timezone.utc) - timedelta(days=40)
    with tickets.engine.begin() as connection:
        for number, (text, _, _) in enumerate(MESSAGES, start=1):
            insert_ticket(connection, number, text, status="closed", closed_at=closed, comments=[f"user: {text}"])
    tickets.engine.dispose()


def command(module: str, database: Database, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, "--tracker-db-url", database.url, "--tickets-db-url", database.url, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def rows_changed(before: Dict[str, Dict[int, tuple]], after: Dict[str, Dict[int, tuple]]) -> int:
    assert {t: set(rows) for t, rows in before.items()} == {t: set(rows) for t, rows in after.items()}
    return sum(before[t][key] != after[t][key] for t in before for key in before[t])


def printed_total(stdout: str) -> int:
    match = re.search(r"^rows changed: (\d+)$", stdout, re.M)
    assert match, stdout
    return int(match.group(1))


def test_scrub_masks_what_the_unmasked_code_wrote(database: Database) -> None:
    fill(database)
    before = database.tables()
    assert sorted(secrets_in(database.text())) == sorted(secret for _, secret, _ in MESSAGES)

    first = command("tools.scrub", database)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""  # from cron: nothing on stderr when all went well
    after = database.tables()
    assert secrets_in(database.text()) == []
    if database.url.startswith("sqlite"):  # and not in the file's free pages or journal either
        raw = b"".join(path.read_bytes() for path in database.tmp_path.glob("alimail.sqlite3*"))
        assert secrets_in(raw) == []
    changed = rows_changed(before, after)
    # user event, slot and bot echo per message; ticket rows; one comment per ticket
    assert changed == 3 * len(MESSAGES) + 2 * len(MESSAGES)
    assert printed_total(first.stdout) == changed

    second = command("tools.scrub", database)
    assert second.returncode == 0, second.stderr
    assert printed_total(second.stdout) == 0
    assert database.tables() == after


def test_purge_deletes_old_conversations_and_closed_transcripts(database: Database) -> None:
    fill(database, ages_in_days=(1, 100))
    done = command("tools.purge", database)
    assert done.returncode == 0, done.stderr
    assert "deleted 1 conversation(s)" in done.stdout
    assert f"transcripts of {len(MESSAGES)} ticket(s)" in done.stdout
    tables = database.tables()
    assert {row[1] for row in tables["events"].values()} == {"age-1"}
    assert len(tables["tickets"]) == len(MESSAGES)  # the tickets stay
    again = command("tools.purge", database)
    assert again.returncode == 0 and "deleted 0 conversation(s)" in again.stdout
    assert "transcripts of 0 ticket(s)" in again.stdout
    assert database.tables() == tables


def test_two_purges_at_once_delete_each_conversation_once(database: Database) -> None:
    fill(database, ages_in_days=(100, 120, 140, 1))
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "tools.purge", "--trackers-only", "--tracker-db-url", database.url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results: List[Tuple[int, str, str]] = []
    for run in runs:
        out, err = run.communicate(timeout=120)
        results.append((run.returncode, out, err))
    assert sorted(code for code, _, _ in results) in ([0, 0], [0, BUSY]), results
    deleted = [int(m) for _, out, _ in results for m in re.findall(r"deleted (\d+) conversation", out)]
    assert sum(deleted) == 3, results  # each conversation deleted and counted once
    assert {row[1] for row in database.tables()["events"].values()} == {"age-1"}


def test_a_held_lock_makes_purge_skip_with_exit_code_3(tmp_path: Path) -> None:
    require_postgres()
    schema = f"retention_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    database = Database(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", tmp_path)
    try:
        fill(database, ages_in_days=(100,))
        with admin.connect() as holder:
            assert holder.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key("trackers")}).scalar()
            skipped = command("tools.purge", database, "--trackers-only")
            holder.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key("trackers")})
        assert skipped.returncode == BUSY, skipped
        assert "skipped, another purge or scrub is working on the trackers" in skipped.stderr
        assert len(database.tables()["events"]) == 3 + 5 * len(MESSAGES)
        done = command("tools.purge", database, "--trackers-only")
        assert done.returncode == 0 and "deleted 1 conversation(s)" in done.stdout
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
