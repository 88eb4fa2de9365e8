"""One real action server and Rasa server, every channel configured, for the whole session
(shared with tests/security when both run in one pytest process: tests/conftest.py)."""

from __future__ import annotations

import itertools

import pytest

from tests.e2e.servers import Servers, SharedServers, channels_config

_senders = itertools.count(1)


@pytest.fixture(scope="session")
def servers(shared_servers: SharedServers, fake_slack) -> Servers:
    return shared_servers.get(channels_config(fake_slack.url))


@pytest.fixture
def sender(request) -> str:
    """A fresh conversation id per test (the test's name without its parameters, which may be
    long: REST takes sender ids of at most 250 characters)."""
    return f"e2e-{request.node.originalname}-{next(_senders)}"
