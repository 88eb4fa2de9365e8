"""The ticket store of the tickets' unit tests: SQLite in the test's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tickets.store import TicketStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TicketStore]:
    store = TicketStore(f"sqlite:///{tmp_path / 'tickets.sqlite3'}")
    yield store
    store.engine.dispose()
