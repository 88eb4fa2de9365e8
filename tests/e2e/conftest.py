"""One real action server and Rasa server for the whole end-to-end session."""

from __future__ import annotations

import itertools

import pytest

from tests.e2e.servers import Servers, start_servers

_senders = itertools.count(1)


@pytest.fixture(scope="session")
def servers(tmp_path_factory) -> Servers:
    running = start_servers(tmp_path_factory.mktemp("servers"))
    yield running
    running.stop()


@pytest.fixture
def sender(request) -> str:
    """A fresh conversation id per test (the test's name without its parameters, which may be
    long: REST takes sender ids of at most 250 characters)."""
    return f"e2e-{request.node.originalname}-{next(_senders)}"
