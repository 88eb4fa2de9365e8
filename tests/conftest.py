"""Shared fixtures: fresh settings for every test; tracker builders.

(The project is installed editable: no sys.path edits.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from core.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Settings are read once per process: each test reads the environment it sets (monkeypatch.setenv)."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
