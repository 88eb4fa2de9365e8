"""Shared fixtures: fresh settings for every test; tracker builders; the servers that tests/e2e
and tests/security share for the whole session (started on first use only).

(The project is installed editable: no sys.path edits.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from core.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Settings are read once per process: each test reads the environment it sets (monkeypatch.setenv)."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def shared_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Servers started once per distinct configuration for the whole session (tests/e2e/servers.py,
    SharedServers): run tests/security and tests/e2e in one pytest process and they share them."""
    from tests.e2e.servers import SharedServers  # imported when a test needs servers, not by the unit tests

    shared = SharedServers(tmp_path_factory.mktemp)
    yield shared
    shared.stop_all()


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[Any]:
    """The fake Slack Web API of the session (tests/e2e/test_slack.py, FakeSlackApi)."""
    from tests.e2e.test_slack import FakeSlackApi

    api = FakeSlackApi()
    yield api
    api.stop()


@pytest.fixture(scope="session")
def production_stores() -> Iterator[Any]:
    """A throw-away PostgreSQL database and Redis key prefix for the session (tests/e2e/servers.py)."""
    from tests.e2e.servers import production_stores as stores

    with stores() as made:
        yield made


@pytest.fixture(scope="session")
def production_servers(
    production_stores: Any, tmp_path_factory: pytest.TempPathFactory, fake_slack: Any
) -> Iterator[Any]:
    """The production profile's action server and two Rasa servers on `production_stores`, for the
    session: tests/e2e/test_production_profile.py and tests/security/test_dingtalk_and_slack.py."""
    from tests.e2e.servers import production_servers as servers

    with servers(production_stores, tmp_path_factory.mktemp("production"), fake_slack.url) as running:
        yield running
