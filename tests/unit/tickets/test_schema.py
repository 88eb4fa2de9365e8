"""tickets/schema.py: migrating a fresh SQLite file, migrating again, and finishing a partial migration."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List

import pytest
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import Engine

from tickets.schema import LATEST_VERSION, MIGRATIONS, current_version, migrate, schema_version


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'tickets.sqlite3'}")
    yield engine
    engine.dispose()


def versions(engine: Engine) -> List[int]:
    with engine.connect() as connection:
        return list(connection.execute(select(schema_version.c.version).order_by(schema_version.c.version)).scalars())


def sender_index(engine: Engine) -> List[str]:
    return [index["name"] for index in inspect(engine).get_indexes("tickets") if index["name"] == "ix_tickets_sender"]


def test_a_fresh_file_gets_every_step_once(engine: Engine) -> None:
    with engine.begin() as connection:
        assert current_version(connection) == 0
    assert migrate(engine) == LATEST_VERSION == len(MIGRATIONS)
    assert versions(engine) == list(range(1, LATEST_VERSION + 1))
    assert {"tickets", "ticket_events", "ticket_schema_version"} <= set(inspect(engine).get_table_names())
    assert sender_index(engine) == ["ix_tickets_sender"]


def test_migrating_again_changes_nothing(engine: Engine) -> None:
    migrate(engine)
    tables = sorted(inspect(engine).get_table_names())
    assert migrate(engine) == LATEST_VERSION
    assert versions(engine) == list(range(1, LATEST_VERSION + 1))  # no step recorded twice
    assert sorted(inspect(engine).get_table_names()) == tables


def test_a_partly_migrated_file_gets_only_the_missing_steps(engine: Engine) -> None:
    with engine.begin() as connection:
        current_version(connection)  # creates the version table
        MIGRATIONS[0](connection)
        connection.execute(schema_version.insert().values(version=1))
    assert sender_index(engine) == []
    assert migrate(engine) == LATEST_VERSION
    assert versions(engine) == list(range(1, LATEST_VERSION + 1))
    assert sender_index(engine) == ["ix_tickets_sender"]
