"""trainer/scaffold.py without training: the key check, the text edits, and a scaffold the knowledge loader accepts.
(tests/e2e/test_scaffold.py fills one in, trains and talks to it.)"""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
import yaml

from core.knowledge import load_knowledge
from tests.project_copy import copy_project
from trainer.scaffold import ScaffoldError, _insert_at_section_end, main, new_problem, problem_block

PARTS = ["knowledge", "domain.yml", "data", "tests/nlu", "tests/stories"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path, PARTS, link_build=False)


def snapshot(root: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_block_goes_at_the_end_of_its_section_before_the_next_sections_comment() -> None:
    text = "a:\n  - one\n  - two\n\n# about b\nb:\n  x: 1\n"
    assert (
        _insert_at_section_end(text, "a", "  - three\n") == "a:\n  - one\n  - two\n  - three\n\n# about b\nb:\n  x: 1\n"
    )
    assert _insert_at_section_end(text, "b", "  y: 2\n") == text + "  y: 2\n"
    with pytest.raises(ScaffoldError, match="no top-level 'c:'"):
        _insert_at_section_end(text, "c", "")


def test_the_problem_block_is_yaml_with_a_todo_in_every_language() -> None:
    (problem,) = yaml.safe_load(problem_block("shared_mailbox", "Shared mailbox", ["en", "zh"]))
    assert (problem["key"], problem["intent"], problem["severity"]) == ("shared_mailbox", "shared_mailbox", "medium")
    assert problem["title"] == {"en": "Shared mailbox", "zh": "TODO title"}
    assert problem["likely_cause"]["en"].startswith("TODO") and problem["likely_cause"]["zh"].startswith("TODO")
    assert [step["role"] for step in problem["steps"]] == ["user", "user"]


@pytest.mark.parametrize("key", ["", "ab", "Shared", "1mailbox", "shared-mailbox", "a" * 42])
def test_unusable_keys_are_refused_and_nothing_is_written(project: Path, key: str) -> None:
    before = snapshot(project)
    with pytest.raises(ScaffoldError, match="not a usable key"):
        new_problem(project, key)
    assert snapshot(project) == before


@pytest.mark.parametrize("key", ["forgot_password", "next_step"])
def test_a_key_already_used_is_refused(project: Path, key: str) -> None:
    before = snapshot(project)
    with pytest.raises(ScaffoldError, match="already exists"):
        new_problem(project, key)
    assert snapshot(project) == before


def test_a_scaffold_adds_every_entry_and_the_knowledge_file_still_loads(project: Path) -> None:
    touched = new_problem(project, "shared_mailbox", 'Can\'t open a "shared" mailbox')
    assert touched == [
        "knowledge/alimail_security.yml",
        "domain.yml",
        "data/rules.yml",
        "data/nlu/shared_mailbox.yml",
        "data/nlu/zh/shared_mailbox.yml",
        "tests/stories/test_shared_mailbox.yml",
        "tests/nlu/heldout.yml",
        "tests/nlu/heldout_zh.yml",
    ]
    kb = load_knowledge(project / "knowledge" / "alimail_security.yml")
    problem = kb.problems[-1]
    assert (problem.key, problem.title.get("en"), problem.title.get("zh")) == (
        "shared_mailbox",
        "Can't open a 'shared' mailbox",
        "TODO title",
    )
    assert kb.label("shared_mailbox", "en") == "Can't open a 'shared' mailbox"
    intents = yaml.safe_load((project / "domain.yml").read_text(encoding="utf-8"))["intents"]
    assert intents[intents.index("unusual_login_alerts") + 1] == "shared_mailbox"
    rules = yaml.safe_load((project / "data" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    assert rules[-1]["steps"] == [{"intent": "shared_mailbox"}, {"action": "action_start_guide"}]
    for name in ("data/nlu/shared_mailbox.yml", "data/nlu/zh/shared_mailbox.yml"):
        (block,) = yaml.safe_load((project / name).read_text(encoding="utf-8"))["nlu"]
        assert block["intent"] == "shared_mailbox" and block["examples"].startswith("- TODO")
    heldout = yaml.safe_load((project / "tests" / "nlu" / "heldout_zh.yml").read_text(encoding="utf-8"))["nlu"]
    assert heldout[-1]["intent"] == "shared_mailbox"
    story = yaml.safe_load((project / "tests" / "stories" / "test_shared_mailbox.yml").read_text(encoding="utf-8"))
    assert story["stories"][0]["steps"][0]["intent"] == "shared_mailbox"


def test_the_command_reports_a_refused_key(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(project), "new-problem", "Bad Key"]) == 2
    assert "Can't scaffold: 'Bad Key' is not a usable key" in capsys.readouterr().err
    assert main(["--root", str(project), "new-problem", "shared_mailbox"]) == 0
    assert "Fill in every TODO in:\n  knowledge/alimail_security.yml" in capsys.readouterr().out
