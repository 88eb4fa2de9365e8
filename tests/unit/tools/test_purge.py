"""tools/purge.py (make purge) in-process on SQLite files: settings, output, exit codes, the lock."""

from __future__ import annotations

import fcntl
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Tuple

import pytest
import sqlalchemy as sa

from tests.unmasked_rows import DAY, MESSAGES, insert_ticket, plain_store, save_conversation
from tickets.store import TicketStore
from tools import maintenance
from tools.purge import main


@pytest.fixture
def stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tuple[Path, Path]:
    """A tracker store (conversations 5, 50 and 100 days old) and a ticket database (closed 5, 50 days ago)."""
    trackers, tickets = tmp_path / "trackers.sqlite3", tmp_path / "tickets.sqlite3"
    store = plain_store(dialect="sqlite", db=str(trackers))
    for age in (5, 50, 100):
        save_conversation(store, f"age-{age}", MESSAGES[:1], at=time.time() - age * DAY)
    store.engine.dispose()
    ticket_store = TicketStore(f"sqlite:///{tickets}")
    ticket_store.ensure_schema()
    now = datetime.now(timezone.utc)
    with ticket_store.engine.begin() as connection:
        insert_ticket(connection, 1, MESSAGES[0][0], status="closed", closed_at=now - timedelta(days=5))
        insert_ticket(connection, 2, MESSAGES[1][0], status="closed", closed_at=now - timedelta(days=50))
    ticket_store.engine.dispose()
    monkeypatch.setenv("TRACKER_DB_URL", f"sqlite:///{trackers}")
    monkeypatch.setenv("TICKETS_DB_URL", f"sqlite:///{tickets}")
    return trackers, tickets


def senders(path: Path) -> list:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        found = sorted(row[0] for row in connection.execute(sa.text("SELECT DISTINCT sender_id FROM events")))
    engine.dispose()
    return found


def test_deletes_by_the_settings_and_says_what(stores, capsys) -> None:
    trackers, _ = stores
    assert main([]) == 0
    out = capsys.readouterr().out
    assert senders(trackers) == ["age-5", "age-50"]  # CONVERSATION_RETENTION_DAYS: 90 by default
    assert re.search(r"trackers sqlite:///\S+: deleted 1 conversation\(s\), 8 event\(s\), .*\(90 days\)", out)
    assert re.search(r"tickets sqlite:///\S+: deleted the transcripts of 1 ticket\(s\) .*\(30 days\): ALM-000002", out)
    assert main([]) == 0  # again: nothing left to do
    out = capsys.readouterr().out
    assert "deleted 0 conversation(s), 0 event(s)" in out and "transcripts of 0 ticket(s)" in out


def test_the_periods_come_from_the_environment_or_the_flags(stores, monkeypatch, capsys) -> None:
    trackers, _ = stores
    monkeypatch.setenv("CONVERSATION_RETENTION_DAYS", "30")
    assert main(["--dry-run"]) == 0
    assert "would delete 2 conversation(s)" in capsys.readouterr().out
    assert senders(trackers) == ["age-100", "age-5", "age-50"]  # dry run
    assert main(["--trackers-only", "--conversation-days", "1"]) == 0
    out = capsys.readouterr().out
    assert "deleted 3 conversation(s)" in out and "tickets" not in out
    assert senders(trackers) == []


def test_exit_codes(stores, monkeypatch, capsys) -> None:
    trackers, tickets = stores
    monkeypatch.setenv("CONVERSATION_RETENTION_DAYS", "0")
    assert main([]) == maintenance.USAGE
    assert "CONVERSATION_RETENTION_DAYS='0'" in capsys.readouterr().err
    monkeypatch.delenv("CONVERSATION_RETENTION_DAYS")
    assert main(["--transcript-days", "0"]) == maintenance.USAGE
    assert main(["--no-such-flag"]) == maintenance.USAGE

    # Another run holds the tracker store's lock: that store is skipped (3), the other is done.
    with open(f"{trackers}.maintenance.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main([]) == maintenance.BUSY
    captured = capsys.readouterr()
    assert "skipped, another purge or scrub is working on" in captured.err
    assert "ALM-000002" in captured.out
    assert senders(trackers) == ["age-100", "age-5", "age-50"]

    # A broken store fails (1), the other is still done.
    tickets.write_bytes(b"not a database" * 100)
    assert main([]) == maintenance.FAILED
    captured = capsys.readouterr()
    assert re.search(r"tickets sqlite:///\S+: failed: file is not a database", captured.err)
    assert senders(trackers) == ["age-5", "age-50"]


def test_no_stores_yet_is_fine(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRACKER_DB_URL", f"sqlite:///{tmp_path / 'none.sqlite3'}")
    monkeypatch.setenv("TICKETS_DB_URL", f"sqlite:///{tmp_path / 'no-tickets.sqlite3'}")
    assert main([]) == 0
    assert capsys.readouterr().out.count("nothing to do") == 2
    assert list(tmp_path.iterdir()) == []


def test_a_password_in_the_url_is_not_printed(monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRACKER_DB_URL", "postgresql://bot:s3cr3t@127.0.0.1:1/alimail")
    assert main(["--trackers-only"]) == maintenance.FAILED
    captured = capsys.readouterr()
    assert "s3cr3t" not in captured.out + captured.err and "bot:***@127.0.0.1:1" in captured.err
