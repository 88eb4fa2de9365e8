"""tools/maintenance.py: the store lock on SQLite files, URLs without passwords, one exit code for several stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tools.maintenance import BUSY, FAILED, OK, Busy, safe_url, store_lock, worst


def test_one_run_per_sqlite_store_at_a_time(tmp_path: Path) -> None:
    database = tmp_path / "trackers.sqlite3"
    sqlite3.connect(database).close()
    url = f"sqlite:///{database}"
    with store_lock(url, "trackers"):
        with pytest.raises(Busy, match="another purge or scrub is working on"):
            with store_lock(url, "trackers"):
                pass  # pragma: no cover - never entered
    with store_lock(url, "trackers"):  # released
        pass


def test_no_lock_file_without_a_database(tmp_path: Path) -> None:
    with store_lock(f"sqlite:///{tmp_path / 'none.sqlite3'}", "tickets"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_urls_are_shown_without_their_password() -> None:
    assert safe_url("postgresql://bot:s3cr3t@db:5432/alimail") == "postgresql://bot:***@db:5432/alimail"
    assert safe_url("not a url") == "(not a database URL)"


def test_a_failure_outranks_a_busy_store() -> None:
    assert worst([OK, OK]) == OK
    assert worst([OK, BUSY]) == BUSY
    assert worst([BUSY, FAILED, OK]) == FAILED
