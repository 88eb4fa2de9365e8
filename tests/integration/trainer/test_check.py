"""`python -m trainer.check` as trainers run it: exit status and output format, in a copy of the project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.project_copy import copy_project

ROOT = Path(__file__).resolve().parents[3]
PARTS = ["core", "actions", "knowledge", "data", "tests/nlu", "tests/stories", "domain.yml"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path, PARTS, link_build=False)


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_command_line_exit_status_and_format(project: Path) -> None:
    clean = subprocess.run(
        [sys.executable, "-m", "trainer.check", "--root", str(project)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert clean.returncode == 0 and "Data check: OK" in clean.stdout
    edit(project / "data" / "rules.yml", "      - action: action_next_step\n", "      - action: action_nxt_step\n")
    broken = subprocess.run(
        [sys.executable, "-m", "trainer.check", "--root", str(project)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert broken.returncode == 1
    assert "data/rules.yml:" in broken.stdout and "    Fix: " in broken.stdout
    assert "Data check: 1 problem(s) to fix" in broken.stdout
