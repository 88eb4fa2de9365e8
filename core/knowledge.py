"""Typed access to the knowledge file (knowledge/alimail_security.yml).

The file is the single place where problems, steps and FAQ answers live; the
actions only render what this module returns. Texts are maps from language code
to text; `Text.get(lang)` falls back to the file's default language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from core.settings import DEFAULT_KNOWLEDGE_PATH, PROJECT_ROOT, get_settings

DEFAULT_KNOWLEDGE_FILE = PROJECT_ROOT / DEFAULT_KNOWLEDGE_PATH

ROLE_USER = "user"
ROLE_POSTMASTER = "postmaster"
ROLES = (ROLE_USER, ROLE_POSTMASTER)


class KnowledgeError(ValueError):
    """The knowledge file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Text:
    """One text in several languages."""

    values: Mapping[str, str]
    default_language: str = "en"

    def get(self, lang: Optional[str] = None) -> str:
        """The text in `lang`, else in the default language."""
        if lang and lang in self.values:
            return self.values[lang]
        return self.values[self.default_language]


@dataclass(frozen=True)
class Step:
    role: str
    text: Text


@dataclass(frozen=True)
class Branch:
    """A question asked before the steps (recovery option or role)."""

    kind: str
    question: Text
    labels: Dict[str, Text]
    faqs: Dict[str, str]


@dataclass(frozen=True)
class Problem:
    key: str
    intent: str
    title: Text
    # The guide's heading for a problem from the guide; None for a team-authored
    # problem, which says where its content comes from in `source`.
    guide_title: Optional[str]
    severity: str
    index_symptom: Text
    summary: Text
    symptoms: Dict[str, Text]
    likely_cause: Text
    root_cause: Text
    root_cause_items: List[Text]
    steps: List[Step]
    notes: List[Text]
    verification_checks: List[Text]
    verification_expected: Optional[Text]
    error_codes: List[str] = field(default_factory=list)
    branch: Optional[Branch] = None
    intro_faq: Optional[str] = None
    explanation: Optional[Text] = None
    source: Optional[str] = None

    def steps_for(self, role: Optional[str]) -> List[Step]:
        """The steps that apply to `role`; problems without a role branch are all user steps."""
        if self.branch is None or self.branch.kind != "role":
            return list(self.steps)
        wanted = role if role in ROLES else ROLE_USER
        return [step for step in self.steps if step.role == wanted]


@dataclass(frozen=True)
class Faq:
    key: str
    question: Text
    answer: Text
    from_guide: bool
    intent: Optional[str] = None
    derived_from: Optional[str] = None


@dataclass(frozen=True)
class Knowledge:
    default_language: str
    languages: List[str]
    severities: Dict[str, Text]
    problems: List[Problem]
    faqs: List[Faq]
    intent_labels: Dict[str, Text]
    phrases: Dict[str, Text] = field(default_factory=dict)

    def problem(self, key: str) -> Problem:
        for problem in self.problems:
            if problem.key == key:
                return problem
        raise KeyError(key)

    def problem_for_intent(self, intent: Optional[str]) -> Optional[Problem]:
        for problem in self.problems:
            if problem.intent == intent:
                return problem
        return None

    def faq(self, key: str) -> Faq:
        for faq in self.faqs:
            if faq.key == key:
                return faq
        raise KeyError(key)

    def faq_for_intent(self, intent: Optional[str]) -> Optional[Faq]:
        for faq in self.faqs:
            if faq.intent is not None and faq.intent == intent:
                return faq
        return None

    def label(self, intent: str, lang: Optional[str] = None) -> Optional[str]:
        """Human words for an intent, or None when it has none."""
        text = self.intent_labels.get(intent)
        return text.get(lang) if text else None

    def problem_for_error_code(self, code: Optional[str]) -> Optional[Problem]:
        canonical = canonical_error_code(self, code)
        for problem in self.problems:
            if canonical in problem.error_codes:
                return problem
        return None


def _squash(value: str) -> str:
    return "".join(ch for ch in value.lower() if ch.isalnum())


def canonical_error_code(knowledge: Knowledge, raw: Optional[str]) -> Optional[str]:
    """Map a typed or pasted code (`eso local spam`, `spam-detected`) to its canonical spelling."""
    if not raw:
        return None
    wanted = _squash(raw)
    for problem in knowledge.problems:
        for code in problem.error_codes:
            if _squash(code) == wanted:
                return code
    return None


def _text(raw: Any, default_language: str, where: str) -> Text:
    if not isinstance(raw, Mapping):
        raise KnowledgeError(f"{where}: expected a map of language to text, got {raw!r}")
    values = {k: str(v).strip() for k, v in raw.items() if k not in ("derived_from",)}
    if default_language not in values or not values[default_language]:
        raise KnowledgeError(f"{where}: missing the '{default_language}' text")
    return Text(values=values, default_language=default_language)


def _optional_text(raw: Any, default_language: str, where: str) -> Optional[Text]:
    return None if raw is None else _text(raw, default_language, where)


def _branch(raw: Mapping[str, Any], lang: str, where: str) -> Branch:
    kind = raw.get("kind")
    if kind == "recovery_option":
        labels = {
            "yes": _text(raw["yes_label"], lang, f"{where}.yes_label"),
            "no": _text(raw["no_label"], lang, f"{where}.no_label"),
        }
        faqs = {"no": raw["no_option_faq"]}
    elif kind == "role":
        labels = {
            ROLE_POSTMASTER: _text(raw["postmaster_label"], lang, f"{where}.postmaster_label"),
            ROLE_USER: _text(raw["user_label"], lang, f"{where}.user_label"),
        }
        faqs = {ROLE_USER: raw["user_faq"]}
    else:
        raise KnowledgeError(f"{where}.kind: unknown branch kind {kind!r}")
    return Branch(kind=kind, question=_text(raw["question"], lang, f"{where}.question"), labels=labels, faqs=faqs)


def _problem(raw: Mapping[str, Any], lang: str) -> Problem:
    key = raw.get("key")
    where = f"problems[{key}]"
    if key is None:
        raise KnowledgeError(f"{where}: missing field 'key'")
    try:
        steps = []
        for number, step in enumerate(raw["steps"], start=1):
            if step.get("role") not in ROLES:
                raise KnowledgeError(f"{where}.steps[{number}]: role must be one of {ROLES}")
            steps.append(Step(role=step["role"], text=_text(step["text"], lang, f"{where}.steps[{number}]")))
        root = raw["root_cause"]
        verification = raw["verification"]
        problem = Problem(
            key=key,
            intent=raw["intent"],
            title=_text(raw["title"], lang, f"{where}.title"),
            guide_title=raw.get("guide_title"),
            source=raw.get("source"),
            severity=raw["severity"],
            index_symptom=_text(raw["index"]["symptom"], lang, f"{where}.index.symptom"),
            summary=_text(raw["index"]["summary"], lang, f"{where}.index.summary"),
            symptoms={
                name: _text(value, lang, f"{where}.symptoms.{name}")
                for name, value in raw["symptoms"].items()
                if value is not None
            },
            likely_cause=_text(raw["likely_cause"], lang, f"{where}.likely_cause"),
            root_cause=_text(root, lang, f"{where}.root_cause"),
            root_cause_items=[_text(i, lang, f"{where}.root_cause.items") for i in root.get("items", [])],
            steps=steps,
            notes=[_text(n, lang, f"{where}.notes") for n in raw.get("notes") or []],
            verification_checks=[_text(c, lang, f"{where}.verification") for c in verification["checks"]],
            verification_expected=_optional_text(verification.get("expected"), lang, f"{where}.verification.expected"),
            error_codes=list(raw.get("error_codes") or []),
            branch=_branch(raw["branch"], lang, f"{where}.branch") if raw.get("branch") else None,
            intro_faq=raw.get("intro_faq"),
            explanation=_optional_text(raw.get("explanation"), lang, f"{where}.explanation"),
        )
    except KeyError as missing:
        raise KnowledgeError(f"{where}: missing field {missing}") from None
    if not (problem.guide_title or problem.source):
        raise KnowledgeError(
            f"{where}: give `guide_title` (a problem from the guide) or `source` "
            "(where a team-authored problem's content comes from)"
        )
    return problem


def parse_knowledge(raw: Mapping[str, Any]) -> Knowledge:
    """Build a `Knowledge` from the parsed YAML, checking cross references."""
    lang = raw.get("default_language", "en")
    problems = [_problem(p, lang) for p in raw["problems"]]
    faqs = [
        Faq(
            key=f["key"],
            question=_text(f["question"], lang, f"faqs[{f['key']}].question"),
            answer=_text(f["answer"], lang, f"faqs[{f['key']}].answer"),
            from_guide=bool(f.get("guide")),
            intent=f.get("intent"),
            derived_from=f.get("derived_from"),
        )
        for f in raw["faqs"]
    ]
    knowledge = Knowledge(
        default_language=lang,
        languages=list(raw.get("languages") or [lang]),
        severities={k: _text(v, lang, f"severities[{k}]") for k, v in raw["severities"].items()},
        problems=problems,
        faqs=faqs,
        intent_labels={k: _text(v, lang, f"intent_labels[{k}]") for k, v in raw["intent_labels"].items()},
        phrases={k: _text(v, lang, f"phrases[{k}]") for k, v in (raw.get("phrases") or {}).items()},
    )
    faq_keys = {f.key for f in faqs}
    for problem in problems:
        if problem.severity not in knowledge.severities:
            raise KnowledgeError(f"problems[{problem.key}].severity: unknown {problem.severity!r}")
        referenced = [problem.intro_faq] + (list(problem.branch.faqs.values()) if problem.branch else [])
        for faq_key in referenced:
            if faq_key is not None and faq_key not in faq_keys:
                raise KnowledgeError(f"problems[{problem.key}]: refers to unknown FAQ {faq_key!r}")
    return knowledge


def load_knowledge(path: Optional[Path] = None) -> Knowledge:
    """Read and check a knowledge file (default: KNOWLEDGE_FILE of the settings)."""
    path = Path(path or get_settings().knowledge_path())
    with open(path, encoding="utf-8") as handle:
        return parse_knowledge(yaml.safe_load(handle))


@lru_cache(maxsize=1)
def knowledge() -> Knowledge:
    """The knowledge file, loaded once per process."""
    return load_knowledge()
