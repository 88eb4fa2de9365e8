"""A copy of the project in a temporary folder, for tests that change data or run make there."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parent.parent
# What the data check, the scaffold, training and the servers read.
PROJECT_PARTS = (
    "core",
    "stores",
    "tools",
    "pyproject.toml",
    "actions",
    "components",
    "channels",
    "tickets",
    "trainer",
    "knowledge",
    "data",
    "tests/nlu",
    "tests/stories",
    "scripts",
    "domain.yml",
    "config.yml",
    "credentials.yml",
    "endpoints.yml",
)


def copy_project(
    target: Path, parts: Iterable[str] = PROJECT_PARTS, link_build: bool = True, link_venv: bool = False
) -> Path:
    """Copy `parts` of the project into `target`; link (not copy) the build output and the venv."""
    for part in parts:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)
    if link_build:  # the spaCy pipeline and the jieba dictionary the model loads by path
        (target / "build").mkdir(exist_ok=True)
        for built in ("spacy", "jieba", "wordnet"):
            (target / "build" / built).symlink_to(ROOT / "build" / built)
    if link_venv:
        (target / ".venv").symlink_to(os.path.realpath(ROOT / ".venv"))
    return target
