"""For the ticket tests: one real Request Tracker 5 per test session (tests/rt_server.py), started
on a free local port with its own copy of the packaged SQLite database (`make rt` installs RT)."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.rt_server import RTServer, installed


@pytest.fixture(scope="session")
def rt_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RTServer]:
    if not installed():
        pytest.fail("Request Tracker 5 is not installed: run `make rt`", pytrace=False)
    server = RTServer(tmp_path_factory.mktemp("rt")).start()
    print(f"\nRequest Tracker 5 on {server.url}: REST2 answered {server.startup_seconds:.1f} s after start")
    yield server
    server.stop()


@pytest.fixture
def rt(rt_session: RTServer) -> RTServer:
    """The session's RT, running (a test that stopped it gets it back for the next one)."""
    return rt_session.start()
