"""The data check catches each kind of trainer mistake, with file, line and a fix.

Every test breaks one thing in a temporary copy of the project's data and looks
for the finding that names it.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import List

import pytest

from tests.project_copy import copy_project
from trainer.check import MIN_PARAPHRASE, Finding, labels, run_checks
from trainer.project import read_project

PARTS = ["core", "actions", "knowledge", "data", "tests/nlu", "tests/stories", "domain.yml"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path, PARTS, link_build=False)


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def only(findings: List[Finding], words: str) -> Finding:
    matching = [f for f in findings if words in f.problem]
    assert len(matching) == 1, "\n".join(str(f) for f in findings)
    return matching[0]


def test_a_clean_copy_has_no_findings(project: Path) -> None:
    assert run_checks(project) == []


def test_problem_without_rule(project: Path) -> None:
    rules = project / "data" / "rules.yml"
    edit(
        rules,
        "      - intent: forgot_password\n      - action: action_start_guide\n",
        "      - intent: forgot_password\n      - action: action_stop_guide\n",
    )
    finding = only(run_checks(project), "no rule starts its guide")
    assert (finding.path, finding.line) == (
        "knowledge/alimail_security.yml",
        line_of(project / "knowledge/alimail_security.yml", "key: forgot_password"),
    )
    assert "data/rules.yml" in finding.fix


def test_faq_without_test_conversation(project: Path) -> None:
    stories = project / "tests" / "stories" / "test_detours.yml"
    edit(stories, "intent: faq/bulk_sending", "intent: faq/password_rules")
    finding = only(run_checks(project), "FAQ 'bulk_sending' has no test conversation")
    assert "tests/stories" in finding.fix


def test_problem_without_intent_label(project: Path) -> None:
    edit(project / "knowledge" / "alimail_security.yml", "  marked_as_spam: {en:", "  marked_as_spam_old: {en:")
    only(run_checks(project), "problem 'marked_as_spam' has no entry in `intent_labels:`")


def test_too_few_training_examples(project: Path) -> None:
    path = project / "data" / "nlu" / "forgot_password.yml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = line_of(path, "examples: |")
    kept = lines[:start] + lines[start : start + 5]  # five examples left
    path.write_text("".join(kept), encoding="utf-8")
    finding = only(run_checks(project), "intent 'forgot_password' has 5 en training examples")
    assert finding.path == "data/nlu/forgot_password.yml" and finding.line == start + 1
    assert "15 more" in finding.fix


def test_too_few_heldout_examples(project: Path) -> None:
    path = project / "tests" / "nlu" / "heldout_zh.yml"
    text = path.read_text(encoding="utf-8")
    start = text.index("- intent: faq/code_expiry")
    end = text.index("- intent:", start + 10)
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    finding = only(run_checks(project), "intent 'faq/code_expiry' has 0 held-out examples in tests/nlu/heldout_zh.yml")
    assert "at least 10" in finding.problem


def test_same_utterance_in_two_intents(project: Path) -> None:
    path = project / "data" / "nlu" / "verification_failed.yml"
    edit(path, "  examples: |\n", "  examples: |\n    - Forgot my password!\n")
    finding = only(run_checks(project), "is in intent 'verification_failed' and also in 'forgot_password'")
    assert (finding.path, finding.line) == ("data/nlu/verification_failed.yml", line_of(path, "Forgot my password!"))
    assert "data/nlu/forgot_password.yml:6" in finding.problem


def test_heldout_near_copy_of_training(project: Path) -> None:
    path = project / "tests" / "nlu" / "heldout.yml"
    edit(path, "  examples: |\n", "  examples: |\n    - FORGOT my password...\n")
    finding = only(run_checks(project), 'is a near-copy of training example "forgot my password"')
    assert finding.path == "tests/nlu/heldout.yml" and finding.line == line_of(path, "FORGOT my password...")


def test_chinese_heldout_copy_of_training(project: Path) -> None:
    training = project / "data" / "nlu" / "zh" / "forgot_password.yml"
    first = next(
        line.strip()[2:]
        for line in training.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("- ") and "intent" not in line
    )
    edit(project / "tests" / "nlu" / "heldout_zh.yml", "  examples: |\n", f"  examples: |\n    - {first}。\n")
    only(run_checks(project), "is a near-copy of training example")


def test_paraphrase_one_typo_from_training_is_a_near_copy(project: Path) -> None:
    path = project / "tests" / "nlu" / "paraphrase.yml"
    edit(path, "  examples: |\n", "  examples: |\n    - forgot my pasword!\n")  # training: "forgot my password"
    finding = only(run_checks(project), 'paraphrase "forgot my pasword!" is a near-copy of training example')
    assert finding.path == "tests/nlu/paraphrase.yml" and finding.line == line_of(path, "forgot my pasword!")


def test_heldout_keeps_the_exact_rule(project: Path) -> None:
    edit(project / "tests" / "nlu" / "heldout.yml", "  examples: |\n", "  examples: |\n    - forgot my pasword!\n")
    assert not [f for f in run_checks(project) if "forgot my pasword!" in f.problem]


def test_too_few_paraphrase_examples(project: Path) -> None:
    path = project / "tests" / "nlu" / "paraphrase_zh.yml"
    text = path.read_text(encoding="utf-8")
    start = text.index("- intent: faq/code_expiry")
    first = text.index("    - ", start)
    end = text.index("\n", text.index("    - ", text.index("    - ", first) + 1) + 1)  # keep two lines
    rest = text.index("- intent:", start + 10)
    path.write_text(text[: end + 1] + "\n" + text[rest:], encoding="utf-8")
    finding = only(
        run_checks(project), "intent 'faq/code_expiry' has 2 paraphrase examples in tests/nlu/paraphrase_zh.yml"
    )
    assert "at least 25" in finding.problem and "23 more" in finding.fix


def test_paraphrase_unknown_intent(project: Path) -> None:
    path = project / "tests" / "nlu" / "paraphrase.yml"
    edit(path, "- intent: greet\n", "- intent: greeting\n")
    finding = only(run_checks(project), "paraphrase examples for unknown intent 'greeting'")
    assert finding.line == line_of(path, "- intent: greeting") + 2


def test_the_paraphrase_sets_test_every_intent_in_both_languages() -> None:
    project = read_project(Path(__file__).resolve().parents[3])
    assert set(project.paraphrase) == {"en", "zh"}
    for language, examples in project.paraphrase.items():
        counts = collections.Counter(e.intent for e in examples)
        assert set(counts) == set(labels(project)), language
        assert min(counts.values()) >= MIN_PARAPHRASE, (language, counts.most_common()[-1])


def test_action_and_response_not_defined(project: Path) -> None:
    edit(project / "data" / "rules.yml", "      - action: action_next_step\n", "      - action: action_nxt_step\n")
    edit(project / "domain.yml", "  - action_switch_language\n", "  - action_switch_language\n  - action_unwritten\n")
    findings = run_checks(project)
    undefined = only(findings, "uses action 'action_nxt_step'")
    assert undefined.path == "data/rules.yml" and undefined.line == line_of(
        project / "data/rules.yml", "action_nxt_step"
    )
    unimplemented = only(findings, "lists action 'action_unwritten'")
    assert unimplemented.path == "domain.yml"


def test_a_rule_step_without_an_intent_name_is_reported(project: Path) -> None:
    rules = project / "data" / "rules.yml"
    edit(rules, "      - intent: verification_failed\n", "      - intent:\n")
    finding = only(run_checks(project), "uses intent '', which domain.yml does not list")
    assert finding.path == "data/rules.yml"
    assert finding.line == rules.read_text(encoding="utf-8").splitlines().index("      - intent:") + 1


def test_phrase_used_by_the_code_but_missing(project: Path) -> None:
    edit(project / "knowledge" / "alimail_security.yml", "  glad_it_worked:", "  glad_it_worked_renamed:")
    finding = only(run_checks(project), "the code uses phrase 'glad_it_worked'")
    assert finding.path.startswith(("actions/", "core/"))


def test_postmaster_step_nobody_is_shown(project: Path) -> None:
    path = project / "knowledge" / "alimail_security.yml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  - key: unusual_login_alerts")
    at = text.index("      - role: user", start)
    path.write_text(text[:at] + "      - role: postmaster" + text[at + len("      - role: user") :], encoding="utf-8")
    finding = only(run_checks(project), "step 1 is a postmaster step, but the guide never asks")
    assert finding.line == text[:at].count("\n") + 1


def test_text_missing_a_language(project: Path) -> None:
    path = project / "knowledge" / "alimail_security.yml"
    edit(path, ', zh: "好的，接下来我会用中文回答您。"}', "}")
    finding = only(run_checks(project), "a text has no 'zh' version")
    assert finding.line == line_of(path, "language_switched:")


def test_broken_yaml_is_reported_not_raised(project: Path) -> None:
    edit(project / "data" / "rules.yml", "  - rule: next step\n", "  - rule: next step\n   steps: [\n")
    findings = run_checks(project)
    assert len(findings) == 1 and "could not be read" in findings[0].problem
    assert findings[0].path.endswith("rules.yml") and findings[0].line > 1
