"""Shared fixtures: tracker builders. (The project is installed editable: no sys.path edits.)"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
