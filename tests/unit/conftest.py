"""Fixtures for the unit tests (the helpers themselves are in tests/trackers.py)."""

from tests.trackers import conversation  # noqa: F401  (a pytest fixture, used by name)
