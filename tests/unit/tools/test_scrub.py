"""tools/scrub.py (make scrub) in-process on SQLite files: the stores of the settings, output, exit codes."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.unmasked_rows import MESSAGES, insert_ticket, plain_store, save_conversation, secrets_in
from tickets.store import TicketStore
from tools import maintenance
from tools.scrub import main


def raw(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.iterdir()))


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    store = plain_store(dialect="sqlite", db=str(tmp_path / "trackers.sqlite3"))
    save_conversation(store, "alice", MESSAGES, at=time.time())
    store.engine.dispose()
    tickets = TicketStore(f"sqlite:///{tmp_path / 'tickets.sqlite3'}")
    tickets.ensure_schema()
    with tickets.engine.begin() as connection:
        insert_ticket(connection, 1, MESSAGES[0][0], comments=[MESSAGES[1][0]])
    tickets.engine.dispose()
    monkeypatch.setenv("TRACKER_DB_URL", f"sqlite:///{tmp_path / 'trackers.sqlite3'}")
    monkeypatch.setenv("TICKETS_DB_URL", f"sqlite:///{tmp_path / 'tickets.sqlite3'}")
    return tmp_path


def test_scrubs_the_stores_of_the_settings_and_prints_the_counts(folder: Path, capsys) -> None:
    assert len(secrets_in(raw(folder))) == len(MESSAGES)
    assert main(["--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"rows that would change: {3 * len(MESSAGES) + 2}"
    assert len(secrets_in(raw(folder))) == len(MESSAGES)

    assert main([]) == 0
    out = capsys.readouterr().out
    events_rows = 3 + 5 * len(MESSAGES)
    assert re.search(rf"trackers sqlite:///\S+: changed {3 * len(MESSAGES)} of {events_rows} events row\(s\)", out)
    assert re.search(r"tickets sqlite:///\S+: changed 1 of 1 tickets row\(s\) and 1 of 1 comment row\(s\)", out)
    assert out.splitlines()[-1] == f"rows changed: {3 * len(MESSAGES) + 2}"
    assert secrets_in(raw(folder)) == []

    assert main([]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "rows changed: 0"


def test_flags_choose_the_stores(folder: Path, tmp_path_factory, capsys) -> None:
    other = tmp_path_factory.mktemp("other") / "t.sqlite3"
    assert main(["--tickets-only", "--tickets-db-url", f"sqlite:///{other}"]) == 0
    out = capsys.readouterr().out
    assert "trackers" not in out and "nothing to do, no ticket database" in out
    assert not other.exists()
    assert main(["--trackers-only", "--tickets-only"]) == maintenance.USAGE
