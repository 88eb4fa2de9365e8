"""Every command TRAINING.md tells trainers to type, run as written in a copy of the project.

A command added to TRAINING.md without a way to run it here fails
`test_every_command_in_the_guide_is_covered`, so the guide can't drift from what works.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Dict, List

import pytest
import yaml
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from tests.e2e.servers import ROOT
from tests.project_copy import PROJECT_PARTS, copy_project

GUIDE = ROOT / "TRAINING.md"
UNSURE = "is my mailbox haunted or something"
# Commands the test suite runs elsewhere (their test is named) rather than here.
RUN_ELSEWHERE = {
    "make test": "CI runs `make test`, which includes this test",
    "make report": "the full 5-fold run trains the NLU five times: its expansion is checked with make -n here and "
    "the same module runs end to end in tests/e2e/test_report_e2e.py",
    "make report FOLDS=2 REPORT_EPOCHS=3": (
        "run as written (into a temporary REPORT_DIR) by tests/e2e/test_report_e2e.py"
    ),
}


def guide_commands() -> List[str]:
    """The lines of every ```sh block in TRAINING.md."""
    blocks = re.findall(r"```sh\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project sharing the venv, the spaCy build and the models (links)."""
    copy = copy_project(
        tmp_path_factory.mktemp("training-doc") / "project",
        PROJECT_PARTS + ("Makefile", "requirements.txt", "requirements-dev.txt"),
        link_venv=True,
    )
    _conversation_store(copy / "var" / "trackers.sqlite3")
    return copy


def _conversation_store(path: Path) -> None:
    """A real Rasa SQL tracker store holding one message the bot was unsure about."""
    path.parent.mkdir(parents=True)
    domain = Domain.load(str(ROOT / "domain.yml"))
    store = SQLTrackerStore(domain=domain, dialect="sqlite", db=str(path))
    now = time.time()
    parse = {
        "intent": {"name": "nlu_fallback", "confidence": 0.41},
        "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.41}, {"name": "out_of_scope", "confidence": 0.38}],
    }
    events = [
        ActionExecuted("action_session_start", timestamp=now),
        SessionStarted(timestamp=now),
        ActionExecuted("action_listen", timestamp=now),
        UserUttered(UNSURE, intent=parse["intent"], parse_data=parse, timestamp=now + 1),
        ActionExecuted("action_default_ask_affirmation", timestamp=now + 2),
        ActionExecuted("action_listen", timestamp=now + 3),
    ]
    asyncio.run(store.save(DialogueStateTracker.from_events("doc-test", events, slots=domain.slots)))
    store.engine.dispose()


def make(project: Path, command: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TRACKER_DB_URL", "MAKEFLAGS", "MAKELEVEL")}
    return subprocess.run(command, shell=True, cwd=project, capture_output=True, text=True, timeout=600, env=env)


def test_every_command_in_the_guide_is_covered() -> None:
    covered = set(RUN_ELSEWHERE) | set(RUNS)
    assert set(guide_commands()) == covered


def test_check_data(project: Path) -> None:
    done = make(project, "make check-data")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Data check: OK" in done.stdout


def test_responses(project: Path) -> None:
    before = (project / "data" / "responses" / "faq.yml").read_text(encoding="utf-8")
    done = make(project, "make responses")
    assert done.returncode == 0 and "wrote data/responses/faq.yml" in done.stdout
    assert (project / "data" / "responses" / "faq.yml").read_text(encoding="utf-8") == before


def test_review_export_then_merge(project: Path) -> None:
    for command in ("make review-export", 'make review-export ARGS="--since 2026-11-01"'):
        done = make(project, command)
        assert done.returncode == 0, done.stdout + done.stderr
    review = project / "review" / "to_review.yml"
    data = yaml.safe_load(review.read_text(encoding="utf-8"))
    item = next(i for i in data["items"] if i["text"] == UNSURE)
    assert item["intent"] == "" and "fallback" in " ".join(map(str, item["reasons"]))
    text = review.read_text(encoding="utf-8")
    at = text.index(f"text: {UNSURE}") if f"text: {UNSURE}" in text else text.index(UNSURE)
    label = text.index('intent: ""', at)
    review.write_text(text[:label] + "intent: out_of_scope" + text[label + len('intent: ""') :], encoding="utf-8")
    done = make(project, "make review-merge FILE=review/to_review.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"- {UNSURE}\n" in (project / "data" / "nlu" / "out_of_scope.yml").read_text(encoding="utf-8")
    assert make(project, "make check-data").returncode == 0


def test_new_problem(project: Path) -> None:
    done = make(project, """make new-problem KEY=shared_mailbox TITLE="Can't open a shared mailbox\"""")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "data/nlu/zh/shared_mailbox.yml" in done.stdout
    assert 'title: {en: "Can\'t open a shared mailbox"' in (project / "knowledge" / "alimail_security.yml").read_text()
    refused = make(project, "make check-data")
    assert refused.returncode != 0 and "TODO placeholder" in refused.stdout


def test_report_commands_expand_as_documented(project: Path) -> None:
    full = make(project, "make -n report")
    assert full.returncode == 0 and "-m trainer.report" in full.stdout and "--folds 5" in full.stdout
    assert "--epochs" not in full.stdout
    quick = make(project, "make -n report FOLDS=2 REPORT_EPOCHS=3")
    assert "--folds 2" in quick.stdout and "--epochs 3" in quick.stdout


RUNS: Dict[str, str] = {
    "make check-data": "test_check_data",
    "make responses": "test_responses",
    "make review-export": "test_review_export_then_merge",
    'make review-export ARGS="--since 2026-11-01"': "test_review_export_then_merge",
    "make review-merge FILE=review/to_review.yml": "test_review_export_then_merge",
    """make new-problem KEY=shared_mailbox TITLE="Can't open a shared mailbox\"""": "test_new_problem",
}
