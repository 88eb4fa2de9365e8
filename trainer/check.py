"""The data check: catches trainers' mistakes in seconds, before any training.

    python -m trainer.check            (or: make check-data)

Each finding names the file and line and says in plain words how to fix it.
Exit status 1 when there is any finding. Thresholds are at the top of this file
and explained in TRAINING.md.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional

from trainer.project import Example, LineDict, Project, read_project

# Minimum training examples per intent, in every language the knowledge file declares.
MIN_TRAINING = 20
# Minimum held-out examples per intent, per held-out file (by its language).
MIN_HELDOUT = {"en": 15, "zh": 10}
# Minimum out-of-scope held-out examples, per language.
MIN_HELDOUT_OUT_OF_SCOPE = {"en": 60, "zh": 40}
# Minimum examples per intent a paraphrase set holds, in every language (issue 14).
MIN_PARAPHRASE = 25
# Paraphrase lines whose normalised text has at least this many characters must differ from
# every training line by more than one character edit (shorter ones: not be equal to one).
MIN_ONE_EDIT_LENGTH = 8

PROBLEM_ACTION = "action_start_guide"
FAQ_RESPONSE = "utter_faq"
PLACEHOLDER = re.compile(r"\bTODO\b")
RASA_DEFAULT_ACTIONS = {
    "action_listen",
    "action_restart",
    "action_session_start",
    "action_default_fallback",
    "action_deactivate_loop",
    "action_revert_fallback_events",
    "action_default_ask_affirmation",
    "action_default_ask_rephrase",
    "action_two_stage_fallback",
    "action_unlikely_intent",
    "action_back",
    "action_send_text",
    "action_extract_slots",
    "action_validate_slot_mappings",
}
# Intents Rasa provides itself.
RASA_DEFAULT_INTENTS = {"nlu_fallback", "restart", "back", "out_of_scope", "session_start"}


@dataclass(frozen=True)
class Finding:
    """One mistake: where, what, and how to fix it."""

    path: str
    line: int
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem}\n    Fix: {self.fix}"


# --- what exists --------------------------------------------------------------


def labels(project: Project) -> Dict[str, int]:
    """Every intent label to check, with the domain line: `faq` split into `faq/<key>`."""
    found = {name: line for name, line in project.intents.items() if name != "faq"}
    faq_line = project.intents.get("faq", 1)
    for example in project.training:
        if example.intent.startswith("faq/"):
            found.setdefault(example.intent, faq_line)
    for faq in (project.knowledge or {}).get("faqs") or []:
        if faq.get("intent"):
            found.setdefault(faq["intent"], faq_line)
    return found


def implemented_actions(root: Path) -> Dict[str, str]:
    """Custom action names the action server implements (`def name` in actions/*.py)."""
    pattern = re.compile(r"def name\(self\)[^:]*:\s*(?:\"\"\"[^\"]*\"\"\"\s*)?return\s+\"([^\"]+)\"")
    names: Dict[str, str] = {}
    for path in sorted((root / "actions").glob("*.py")):
        for name in pattern.findall(path.read_text(encoding="utf-8")):
            names[name] = str(path.relative_to(root))
    return names


def _code_references(root: Path, pattern: str) -> Iterator[tuple]:
    regex = re.compile(pattern)
    for folder in ("core", "actions", "channels", "tickets"):
        for path in sorted((root / folder).glob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                for name in regex.findall(line):
                    yield name, str(path.relative_to(root)), number


# --- the checks -----------------------------------------------------------------


def check_example_counts(project: Project) -> Iterator[Finding]:
    """Enough training examples per intent and language; enough held-out ones per file."""
    languages = list((project.knowledge or {}).get("languages") or ["en"])
    first_line: Dict[tuple, tuple] = {}
    counts: Dict[tuple, int] = collections.Counter()
    for example in project.training:
        counts[(example.intent, example.language)] += 1
        first_line.setdefault((example.intent, example.language), (example.path, example.line))
    for intent, line in labels(project).items():
        for language in languages:
            have = counts[(intent, language)]
            if have < MIN_TRAINING:
                path, where = first_line.get((intent, language), (project.domain_path, line))
                yield Finding(
                    path,
                    where,
                    f"intent '{intent}' has {have} {language} training examples; it needs at least {MIN_TRAINING}.",
                    f"add {MIN_TRAINING - have} more ways users say it in {language}, "
                    f"written as they type (short, casual, with typos).",
                )
    for language, examples in project.heldout.items():
        minimum = MIN_HELDOUT.get(language, min(MIN_HELDOUT.values()))
        per_intent = collections.Counter(e.intent for e in examples)
        path = examples[0].path if examples else f"tests/nlu/heldout_{language}.yml"
        for intent in labels(project):
            wanted = MIN_HELDOUT_OUT_OF_SCOPE.get(language, 40) if intent == "out_of_scope" else minimum
            if per_intent[intent] < wanted:
                yield Finding(
                    path,
                    1,
                    f"intent '{intent}' has {per_intent[intent]} held-out examples "
                    f"in {path}; it needs at least {wanted}.",
                    "add new test sentences there — never copies of training examples, "
                    "so the test measures how the bot does on words it has not seen.",
                )
        yield from _unknown_intents(project, examples, "held-out")
    yield from check_paraphrase_counts(project)


def _unknown_intents(project: Project, examples: List[Example], kind: str) -> Iterator[Finding]:
    unknown: Dict[str, Example] = {}
    for example in examples:
        if example.intent not in labels(project):
            unknown.setdefault(example.intent, example)
    for example in unknown.values():
        yield Finding(
            example.path,
            example.line,
            f"{kind} examples for unknown intent '{example.intent}' (first one here).",
            "use an intent listed in domain.yml (or faq/<key>), or add the intent first.",
        )


def check_paraphrase_counts(project: Project) -> Iterator[Finding]:
    """Every intent a paraphrase set tests has enough lines there to vary its key words and frames.

    An intent the set does not test yet (a guide just added with `make new-problem`) is not a
    finding: the unit tests check that the project's own sets cover every intent."""
    for examples in project.paraphrase.values():
        per_intent = collections.Counter(e.intent for e in examples)
        first: Dict[str, Example] = {}
        for example in examples:
            first.setdefault(example.intent, example)
        for intent, have in per_intent.items():
            if have < MIN_PARAPHRASE and intent in labels(project):
                yield Finding(
                    first[intent].path,
                    first[intent].line,
                    f"intent '{intent}' has {have} paraphrase examples in {first[intent].path}; "
                    f"it needs at least {MIN_PARAPHRASE}.",
                    f"add {MIN_PARAPHRASE - have} more, varying the key words (synonyms, typos) and the frame "
                    "(question, order, polite, angry, terse) — never copies of training examples.",
                )
        yield from _unknown_intents(project, examples, "paraphrase")


def check_clashes(project: Project) -> Iterator[Finding]:
    """The same utterance (ignoring case, punctuation and spaces) in two intents."""
    seen: Dict[str, Example] = {}
    for example in project.training:
        if not example.key:
            continue
        other = seen.setdefault(example.key, example)
        if other.intent != example.intent:
            yield Finding(
                example.path,
                example.line,
                f"\"{example.text}\" is in intent '{example.intent}' and also in "
                f"'{other.intent}' ({other.path}:{other.line}).",
                "keep it only in the intent it really means; delete or reword the other one.",
            )


def _deletions(key: str) -> Iterator[str]:
    """`key` with one character left out, at every position."""
    return (key[:i] + key[i + 1 :] for i in range(len(key)))


class _OneEditIndex:
    """Training examples found by a normalised key within one character edit (SymSpell's
    deletion neighbourhood: two keys are near when one deletion from each, or from one, makes them equal)."""

    def __init__(self, examples: Iterable[Example]) -> None:
        self.exact: Dict[str, Example] = {}
        self.deleted: Dict[str, Example] = {}
        for example in examples:
            if example.key:
                self.exact.setdefault(example.key, example)
                if len(example.key) >= MIN_ONE_EDIT_LENGTH:
                    for variant in _deletions(example.key):
                        self.deleted.setdefault(variant, example)

    def twin(self, key: str) -> Optional[Example]:
        """The training example equal to `key`, else (for keys long enough) one within one edit."""
        if key in self.exact or len(key) < MIN_ONE_EDIT_LENGTH:
            return self.exact.get(key)
        if key in self.deleted:
            return self.deleted[key]
        for variant in _deletions(key):
            found = self.exact.get(variant) or self.deleted.get(variant)
            if found is not None:
                return found
        return None


def check_heldout_leaks(project: Project) -> Iterator[Finding]:
    """Held-out and paraphrase examples that are (near-)copies of training examples.

    Held-out lines must differ from every training line after normalising (case, punctuation,
    spaces). Paraphrase lines test variation, so they must also differ by more than one
    character edit: a training line with one typo added or fixed is not a paraphrase."""
    training = {e.key: e for e in project.training if e.key}
    one_edit = _OneEditIndex(project.training)
    sets = [("held-out", examples) for examples in project.heldout.values()]
    sets += [("paraphrase", examples) for examples in project.paraphrase.values()]
    for kind, examples in sets:
        for example in examples:
            twin = training.get(example.key) if kind == "held-out" else one_edit.twin(example.key)
            if twin is not None:
                same = "the same as" if twin.text == example.text else "a near-copy of"
                yield Finding(
                    example.path,
                    example.line,
                    f'{kind} "{example.text}" is {same} training example "{twin.text}" ({twin.path}:{twin.line}).',
                    f"reword the {kind} sentence (or remove it): a test on sentences the "
                    "model was trained on says nothing about new users.",
                )


def check_references(project: Project) -> Iterator[Finding]:
    """Intents, actions, responses and forms used somewhere but defined nowhere."""
    implemented = implemented_actions(project.root)
    known_actions = set(project.actions) | set(project.responses) | set(project.forms) | RASA_DEFAULT_ACTIONS
    faq_responses = {name.split("/", 1)[1] for name in project.responses if name.startswith(FAQ_RESPONSE + "/")}
    for step in project.rules + project.test_steps:
        if step.kind == "intent":
            intent = step.name or ""  # an empty `- intent:` is reported as unknown
            base = intent.split("/", 1)[0]
            if base not in project.intents and intent not in RASA_DEFAULT_INTENTS:
                yield Finding(
                    step.path,
                    step.line,
                    f"'{step.story}' uses intent '{intent}', which domain.yml does not list.",
                    "add the intent under `intents:` in domain.yml, or fix the spelling.",
                )
            elif base == "faq" and "/" in intent and intent.split("/", 1)[1] not in faq_responses:
                yield Finding(
                    step.path,
                    step.line,
                    f"'{step.story}' uses '{intent}', which has no answer ({FAQ_RESPONSE}/{intent.split('/', 1)[1]}).",
                    "add the FAQ to the knowledge file and run `make responses`.",
                )
        elif step.kind == "action" and step.name not in known_actions and step.name != FAQ_RESPONSE:
            yield Finding(
                step.path,
                step.line,
                f"'{step.story}' uses action '{step.name}', which is not defined in domain.yml.",
                "list it under `actions:` (custom action) or `responses:` (utter_…) in "
                "domain.yml, or fix the spelling.",
            )
        elif (
            step.kind == "active_loop"
            and step.name not in (None, "null")
            and step.name not in project.forms
            and step.name not in RASA_DEFAULT_ACTIONS
        ):
            yield Finding(
                step.path,
                step.line,
                f"'{step.story}' activates form '{step.name}', which domain.yml does not define.",
                "define it under `forms:`.",
            )
    for name, line in project.actions.items():
        if name not in implemented and name not in RASA_DEFAULT_ACTIONS and not name.startswith("utter_"):
            yield Finding(
                project.domain_path,
                line,
                f"domain.yml lists action '{name}', but no action in actions/ has that name.",
                "fix the spelling, or ask a developer to implement the action.",
            )
    for name, path, line in _code_references(project.root, r"response=\"(utter_[a-z0-9_/]+)\""):
        if name not in project.responses:
            yield Finding(
                path,
                line,
                f"the code sends response '{name}', which is not defined.",
                "add it under `responses:` in domain.yml.",
            )
    phrases = set(((project.knowledge or {}).get("phrases") or {}))
    for name, path, line in _code_references(project.root, r"say\(\"([a-z0-9_]+)\"\s*[,)]"):
        if name not in phrases:
            yield Finding(
                path,
                line,
                f"the code uses phrase '{name}', which the knowledge file's `phrases:` does not define.",
                f"add `{name}:` with its texts under `phrases:` in {project.knowledge_path}.",
            )


def _starts_guide(rules: List, intent: str) -> bool:
    """True when some rule (or story) answers `intent` directly with the guide-starting action."""
    return any(
        step.kind == "intent"
        and step.name == intent
        and following.kind == "action"
        and following.name == PROBLEM_ACTION
        and following.story == step.story
        and following.path == step.path
        and step.path.endswith("rules.yml")
        for step, following in zip(rules, rules[1:])
    )


def _steps_mentioning(steps: Iterable, intent: str) -> list:
    return [s for s in steps if s.kind == "intent" and s.name == intent]


def check_problems_and_faqs(project: Project) -> Iterator[Finding]:
    """Every problem and FAQ is wired: intent, answer, rule, test conversation."""
    knowledge = project.knowledge or {}
    path = project.knowledge_path
    faqs = {faq.get("key"): faq for faq in knowledge.get("faqs") or []}
    shown_by_problems = set()
    for problem in knowledge.get("problems") or []:
        key = problem.get("key", "?")
        intent = problem.get("intent")
        shown_by_problems.add(problem.get("intro_faq"))
        shown_by_problems.update(v for k, v in (problem.get("branch") or {}).items() if k.endswith("_faq"))
        if not intent:
            yield Finding(
                path,
                problem.line,
                f"problem '{key}' has no `intent:`.",
                "add `intent: <name>` and list that intent in domain.yml.",
            )
            continue
        if intent not in project.intents:
            yield Finding(
                path,
                problem.line,
                f"problem '{key}' uses intent '{intent}', which domain.yml does not list.",
                "add it under `intents:` in domain.yml.",
            )
        if not _starts_guide(project.rules, intent):
            yield Finding(
                path,
                problem.line,
                f"problem '{key}': no rule starts its guide when a user says '{intent}'.",
                f"add to data/rules.yml a rule with `- intent: {intent}` then "
                f"`- action: {PROBLEM_ACTION}` (make new-problem writes it for you).",
            )
        if not _steps_mentioning(project.test_steps, intent):
            yield Finding(
                path,
                problem.line,
                f"problem '{key}' has no test conversation (no story in tests/stories uses intent '{intent}').",
                "add a story to tests/stories/ that walks through the guide.",
            )
        if intent not in (knowledge.get("intent_labels") or {}):
            yield Finding(
                path,
                problem.line,
                f"problem '{key}' has no entry in `intent_labels:`, so "
                'menus and "did you mean" buttons can\'t offer it.',
                f'add `{intent}: {{en: "..."}}` under `intent_labels:`.',
            )
        if not problem.get("steps"):
            yield Finding(path, problem.line, f"problem '{key}' has no steps.", "add its steps.")
        yield from _unrendered_steps(problem, path)
    for key, faq in faqs.items():
        intent = faq.get("intent")
        if not intent:
            if key not in shown_by_problems:
                yield Finding(
                    path,
                    faq.line,
                    f"FAQ '{key}' has no `intent:` and no guide shows it, so no user can ever get this answer.",
                    f"add `intent: faq/{key}` (and training examples), or reference it from a problem (`intro_faq:`).",
                )
            continue
        if not intent.startswith("faq/"):
            yield Finding(
                path,
                faq.line,
                f"FAQ '{key}' has intent '{intent}'; FAQ intents are named faq/<key>.",
                f"use `intent: faq/{key}`.",
            )
            continue
        if intent not in project.responses and f"{FAQ_RESPONSE}/{intent.split('/', 1)[1]}" not in project.responses:
            yield Finding(
                path,
                faq.line,
                f"FAQ '{key}' has no answer in data/responses/faq.yml.",
                "run `make responses` to regenerate the answers from the knowledge file.",
            )
        if not any(s.kind == "intent" and s.name == "faq" for s in project.rules):
            yield Finding(
                path,
                faq.line,
                f"FAQ '{key}': no rule answers `faq` intents.",
                "add the rule `- intent: faq` → `- action: utter_faq` to data/rules.yml.",
            )
        if not _steps_mentioning(project.test_steps, intent):
            yield Finding(
                path,
                faq.line,
                f"FAQ '{key}' has no test conversation (no story in tests/stories uses intent '{intent}').",
                "add a short story to tests/stories/ where a user asks it.",
            )


def _unrendered_steps(problem: LineDict, path: str) -> Iterator[Finding]:
    """Steps no answer shows: a role nobody is asked for, or an empty text."""
    branch = problem.get("branch") or {}
    asks_role = branch.get("kind") == "role"
    for number, step in enumerate(problem.get("steps") or [], start=1):
        line = getattr(step, "line", problem.line)
        role = step.get("role")
        if role not in ("user", "postmaster"):
            yield Finding(
                path,
                line,
                f"problem '{problem.get('key')}' step {number} has role {role!r}; "
                "the guide only shows `user` and `postmaster` steps.",
                "set `role: user` or `role: postmaster`.",
            )
        elif role == "postmaster" and not asks_role:
            yield Finding(
                path,
                line,
                f"problem '{problem.get('key')}' step {number} is a postmaster step, "
                "but the guide never asks whether the user is the postmaster, so it "
                "would be shown to everyone as a user step.",
                "add a `branch:` of `kind: role` to the problem, or make it `role: user`.",
            )
        text = step.get("text")
        if not isinstance(text, dict) or not any(str(v).strip() for v in text.values()):
            yield Finding(
                path,
                line,
                f"problem '{problem.get('key')}' step {number} has no text to show.",
                'write the step\'s text (`text: {en: "..."}`).',
            )


def _text_maps(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        if "en" in node:
            yield node
        for value in node.values():
            yield from _text_maps(value)
    elif isinstance(node, list):
        for value in node:
            yield from _text_maps(value)


def check_texts(project: Project) -> Iterator[Finding]:
    """Every knowledge text in every declared language; no scaffold placeholder left."""
    knowledge = project.knowledge or {}
    languages = list(knowledge.get("languages") or ["en"])
    for text in _text_maps(knowledge):
        line = getattr(text, "line", 1)
        for language in languages:
            if not str(text.get(language) or "").strip():
                yield Finding(
                    project.knowledge_path,
                    line,
                    f"a text has no '{language}' version (English: \"{str(text.get('en'))[:60]}\").",
                    f'add `{language}: "..."` next to `en:` — every text must exist in '
                    f"every language listed in `languages:`.",
                )
    yield from _placeholders(project)


def _placeholders(project: Project) -> Iterator[Finding]:
    folders = [
        project.root / project.knowledge_path,
        project.root / "domain.yml",
        project.root / "data",
        project.root / "tests" / "nlu",
        project.root / "tests" / "stories",
    ]
    for folder in folders:
        files = [folder] if folder.is_file() else sorted(folder.rglob("*.yml"))
        for path in files:
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if PLACEHOLDER.search(line):
                    yield Finding(
                        str(path.relative_to(project.root)),
                        number,
                        "this line still holds a TODO placeholder from `make new-problem`.",
                        "replace it with real content (or delete the line).",
                    )


CHECKS = (
    check_texts,
    check_problems_and_faqs,
    check_example_counts,
    check_clashes,
    check_heldout_leaks,
    check_references,
)


def run_checks(root: Path) -> List[Finding]:
    """Every finding for the project in `root`, in file and line order per check."""
    try:
        project = read_project(root)
    except Exception as error:  # a file that is not valid YAML: say which and where
        mark = getattr(error, "problem_mark", None)  # where yaml's MarkedYAMLError found the problem
        return [
            Finding(
                mark and str(mark.name) or "?",
                getattr(mark, "line", -1) + 1,
                f"the file could not be read: {error}",
                "fix the YAML (indentation, a missing quote or colon) at that line.",
            )
        ]
    findings: List[Finding] = []
    for check in CHECKS:
        findings.extend(check(project))
    return findings


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="the project folder (default: this checkout)",
    )
    args = parser.parse_args(argv)
    findings = run_checks(args.root)
    for finding in findings:
        print(finding)
    if findings:
        print(f"\nData check: {len(findings)} problem(s) to fix (see TRAINING.md, 'Data check messages').")
        return 1
    print("Data check: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
