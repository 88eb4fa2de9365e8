"""The knowledge file holds every problem, step and FAQ answer of the guide, in the guide's order."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from core.knowledge import (
    DEFAULT_KNOWLEDGE_FILE,
    KnowledgeError,
    canonical_error_code,
    knowledge,
    load_knowledge,
    parse_knowledge,
)
from tests.guide_markdown import parse_guide

ROOT = Path(__file__).resolve().parents[3]
GUIDE_COPY = ROOT / "knowledge" / "source" / "alimail-security-guide.md"
SEED = Path("shared", "seed", "alimail-security-guide.md")


def shared_guide() -> Path:
    """The team's seed guide: beside this checkout, or beside the checkout it was cloned from.

    CI's clone has ../shared beside it; a plain `git clone . /tmp/check` has not, but its origin has.
    """
    places = [ROOT.parent]
    origin = subprocess.run(
        ["git", "-C", str(ROOT), "remote", "get-url", "origin"], capture_output=True, text=True, timeout=10
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        places.append(Path(origin).resolve().parent)
    for place in places:
        if (place / SEED).is_file():
            return place / SEED
    raise AssertionError(f"{SEED} is neither beside {ROOT} nor beside its origin {origin or '(none)'}")


@pytest.fixture(scope="module")
def guide():
    return parse_guide(GUIDE_COPY)


@pytest.fixture(scope="module")
def kb():
    return load_knowledge(DEFAULT_KNOWLEDGE_FILE)


def test_guide_copy_matches_the_shared_guide():
    assert GUIDE_COPY.read_bytes() == shared_guide().read_bytes(), (
        "knowledge/source/ is out of date: copy ../shared/seed/alimail-security-guide.md over it"
    )


def test_the_parser_finds_the_whole_guide(guide):
    # Guards against a parser that silently finds nothing (which would make the tests below vacuous).
    assert len(guide.problems) == 5
    assert [len(p.steps) for p in guide.problems] == [6, 7, 4, 5, 4]
    assert len(guide.faqs) == 5
    assert len(guide.index) == 5


def guide_problems(kb):
    """The problems taken from the guide (a team-authored problem has `source:` instead)."""
    return [p for p in kb.problems if p.guide_title is not None]


def test_problems_in_the_guides_order(guide, kb):
    assert [p.guide_title for p in guide_problems(kb)] == [p.title for p in guide.problems]
    assert [p.guide_title for p in guide_problems(kb)] == [row["Problem"] for row in guide.index]


def test_problem_index_fields(guide, kb):
    for row, problem in zip(guide.index, guide_problems(kb)):
        assert kb.severities[problem.severity].get("en") == row["Severity"], problem.key
        assert problem.index_symptom.get("en") == row["Symptom"], problem.key
        assert problem.summary.get("en") == row["Solution Summary"], problem.key


def test_every_step_in_order_with_its_role(guide, kb):
    for source, problem in zip(guide.problems, guide_problems(kb)):
        assert [(s.role, s.text.get("en")) for s in problem.steps] == source.steps, problem.key


def test_symptoms_cause_notes_and_verification(guide, kb):
    for source, problem in zip(guide.problems, guide_problems(kb)):
        assert {k: v.get("en") for k, v in problem.symptoms.items()} == source.symptoms, problem.key
        cause = [problem.root_cause.get("en")] + [i.get("en") for i in problem.root_cause_items]
        assert cause == source.root_cause, problem.key
        assert [n.get("en") for n in problem.notes] == source.notes, problem.key
        assert [c.get("en") for c in problem.verification_checks] == source.verification, problem.key
        expected = problem.verification_expected.get("en") if problem.verification_expected else None
        assert expected == source.expected, problem.key


def test_every_guide_faq_in_order(guide, kb):
    from_guide = [(f.question.get("en"), f.answer.get("en")) for f in kb.faqs if f.from_guide]
    assert from_guide == guide.faqs


def test_derived_faqs_say_where_they_come_from(kb):
    for faq in kb.faqs:
        if not faq.from_guide:
            assert faq.derived_from, faq.key


def test_every_faq_is_reachable(kb):
    """Each FAQ answer is asked by a retrieval intent or shown by a guide."""
    shown = {p.intro_faq for p in guide_problems(kb)} | {
        k for p in guide_problems(kb) if p.branch for k in p.branch.faqs.values()
    }
    for faq in kb.faqs:
        assert faq.intent or faq.key in shown, f"FAQ {faq.key} is never shown"


def test_derived_facts_match_the_guide(kb):
    """The derived FAQ answers restate numbers the guide gives (8 characters, 5 minutes)."""
    steps = {s.text.get("en") for s in kb.problem("forgot_password").steps}
    assert any("≥8 characters" in s for s in steps)
    assert "at least 8 characters" in kb.faq("password_rules").answer.get("en")
    assert any("5-minute-expiring" in s for s in steps)
    assert "5 minutes" in kb.faq("code_expiry").answer.get("en")


def test_retrieval_intents_are_unique_and_named_faq(kb):
    intents = [f.intent for f in kb.faqs if f.intent]
    assert len(intents) == len(set(intents))
    assert all(re.fullmatch(r"faq/[a-z_]+", i) for i in intents)
    for required in ("phishing_drill", "disable_all_notifications", "password_rules", "code_expiry", "bulk_sending"):
        assert f"faq/{required}" in intents


def test_every_text_has_the_default_language(kb):
    raw = yaml.safe_load(DEFAULT_KNOWLEDGE_FILE.read_text(encoding="utf-8"))
    assert raw["default_language"] in raw["languages"]
    title = kb.problem("forgot_password").title
    assert title.get("fr") == title.get("en") == "Forgotten Password"  # unknown language: the default
    assert set(raw["languages"]) <= set(title.values)


def test_error_codes_are_normalised(kb):
    assert canonical_error_code(kb, "eso local spam") == "ESO_LOCAL_SPAM"
    assert canonical_error_code(kb, "Spam-Detected") == "SpamDetected"
    assert canonical_error_code(kb, "invalid email content") == "InvalidEmailContent"
    assert canonical_error_code(kb, "spam") is None
    assert kb.problem_for_error_code("SpamDetected").key == "marked_as_spam"


def test_malformed_files_are_refused_with_the_entry_named():
    raw = yaml.safe_load(DEFAULT_KNOWLEDGE_FILE.read_text(encoding="utf-8"))
    raw["problems"][0]["steps"][0]["role"] = "manager"
    with pytest.raises(KnowledgeError, match=r"forgot_password.*steps\[1\]"):
        parse_knowledge(raw)
    raw = yaml.safe_load(DEFAULT_KNOWLEDGE_FILE.read_text(encoding="utf-8"))
    raw["problems"][2]["intro_faq"] = "no_such_faq"
    with pytest.raises(KnowledgeError, match="unknown FAQ"):
        parse_knowledge(raw)
    raw = yaml.safe_load(DEFAULT_KNOWLEDGE_FILE.read_text(encoding="utf-8"))
    raw["faqs"][0]["answer"] = {"zh": "只有中文"}
    with pytest.raises(KnowledgeError, match="missing the 'en' text"):
        parse_knowledge(raw)
    raw = yaml.safe_load(DEFAULT_KNOWLEDGE_FILE.read_text(encoding="utf-8"))
    del raw["problems"][1]["key"]
    with pytest.raises(KnowledgeError, match=r"problems\[None\]: missing field 'key'"):
        parse_knowledge(raw)


def test_knowledge_is_cached_per_process():
    assert knowledge() is knowledge()
