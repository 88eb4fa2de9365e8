"""Scaffold a new troubleshooting guide: every entry it needs, ready to fill in.

    python -m trainer.scaffold new-problem KEY [--title "Shown title"]
    (or: make new-problem KEY=shared_mailbox TITLE="Can't open a shared mailbox")

Adds, marked with TODO where a trainer writes content:
  knowledge file  the problem (texts in every declared language) and its menu label
  domain.yml      the intent
  data/nlu        <key>.yml (and <lang>/<key>.yml per other language) for training examples
  data/rules.yml  the rule that starts the guide
  tests/stories   test_<key>.yml, a test conversation through the guide
  tests/nlu       a held-out block in every held-out file
`make check-data` lists every TODO left; the files are edited as text, so
comments and layout elsewhere stay as they were.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import List, Optional

import yaml

from core.settings import get_settings

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{2,40}$")


class ScaffoldError(ValueError):
    """The scaffold can't be added (bad key, key already used); the message says why."""


def knowledge_file(root: Path) -> Path:
    """The knowledge file of the project in `root` (KNOWLEDGE_FILE, relative to `root`)."""
    return get_settings().knowledge_path(root)


def _languages(root: Path) -> List[str]:
    raw = yaml.safe_load(knowledge_file(root).read_text(encoding="utf-8"))
    return list(raw.get("languages") or [raw.get("default_language", "en")])


def _text(first: str, languages: List[str], todo: str) -> str:
    """An inline text map: `first` in the default language, TODO in the others."""
    parts = [f'{languages[0]}: "{first}"'] + [f'{lang}: "TODO {todo}"' for lang in languages[1:]]
    return "{" + ", ".join(parts) + "}"


def problem_block(key: str, title: str, languages: List[str]) -> str:
    """The knowledge-file entry for a new problem."""
    todo = lambda what: _text(f"TODO {what}", languages, what)  # noqa: E731
    return f"""
  - key: {key}
    intent: {key}
    title: {_text(title, languages, "title")}
    # A problem that is not in the troubleshooting guide must say where its facts come from.
    source: "TODO: the documented team decision this guide's content comes from"
    severity: medium
    index:
      symptom: {todo("what the user notices")}
      summary: {todo("the fix in one line")}
    symptoms:
      error_message: {todo("the exact error text, or None")}
      behavior: {todo("what goes wrong")}
      context: {todo("when it happens")}
    root_cause: {todo("why it happens")}
    likely_cause: {todo("why it happens, in words a user understands")}
    steps:
      - role: user
        text: {todo("first step")}
      - role: user
        text: {todo("second step")}
    notes: []
    verification:
      checks:
        - {todo("how the user checks that it worked")}
      expected: {todo("what they should see then")}
"""


def _insert_at_section_end(text: str, section: str, block: str) -> str:
    """Insert `block` after the last entry of the top-level `section:` (before the next one)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == f"{section}:"), None)
    if start is None:
        raise ScaffoldError(f"no top-level '{section}:' section found")
    end = start + 1
    while end < len(lines) and not (
        lines[end].strip() and not lines[end][0].isspace() and not lines[end].startswith("-")
    ):
        end += 1
    # The blank lines and comments that introduce the next section stay with it.
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    return "".join(lines[:end]) + block + "".join(lines[end:])


def add_to_knowledge(root: Path, key: str, title: str, languages: List[str]) -> None:
    path = knowledge_file(root)
    text = path.read_text(encoding="utf-8")
    text = _insert_at_section_end(text, "problems", problem_block(key, title, languages))
    text = _insert_at_section_end(text, "intent_labels", f"  {key}: {_text(title, languages, 'menu label')}\n")
    path.write_text(text, encoding="utf-8")


def add_to_domain(root: Path, key: str, after_intent: Optional[str]) -> None:
    """List the intent in domain.yml, after the last problem intent."""
    path = root / "domain.yml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next((i for i, line in enumerate(lines) if line.strip() == f"- {after_intent}"), None)
    if index is None:
        index = next(i for i, line in enumerate(lines) if line.rstrip() == "intents:")
    lines.insert(index + 1, f"  - {key}\n")
    path.write_text("".join(lines), encoding="utf-8")


def nlu_block(key: str, language: str, what: str) -> str:
    return f"\n- intent: {key}\n  examples: |\n    - TODO {what} ({language}): one line each, as users type them\n"


def write_nlu_files(root: Path, key: str, languages: List[str]) -> List[Path]:
    written = []
    for language in languages:
        folder = root / "data" / "nlu" if language == languages[0] else root / "data" / "nlu" / language
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{key}.yml"
        path.write_text(
            'version: "3.1"\n\n# Training examples for the guide '
            f"'{key}': at least 20 ({language}).\nnlu:"
            + nlu_block(key, language, "at least 20 ways users describe this problem"),
            encoding="utf-8",
        )
        written.append(path)
    return written


def add_rule(root: Path, key: str, title: str) -> None:
    path = root / "data" / "rules.yml"
    text = path.read_text(encoding="utf-8").rstrip("\n")
    text += (
        f"\n\n  - rule: {title} starts its guide\n    steps:\n      - intent: {key}\n"
        "      - action: action_start_guide\n"
    )
    path.write_text(text, encoding="utf-8")


def write_test_story(root: Path, key: str, title: str) -> Path:
    path = root / "tests" / "stories" / f"test_{key}.yml"
    path.write_text(
        f"""version: "3.1"

# Test conversation for the guide '{key}' ({title}).
stories:
  - story: {title}, all steps, it worked
    steps:
      - user: |
          TODO a typical first message from a user with this problem
        intent: {key}
      - action: action_start_guide
      - user: |
          /all_steps
        intent: all_steps
      - action: action_show_all_steps
      - user: |
          /affirm
        intent: affirm
      - action: action_handle_answer
""",
        encoding="utf-8",
    )
    return path


def add_heldout(root: Path, key: str, languages: List[str]) -> None:
    for language in languages:
        name = "heldout.yml" if language == languages[0] else f"heldout_{language}.yml"
        path = root / "tests" / "nlu" / name
        if path.exists():
            text = path.read_text(encoding="utf-8").rstrip("\n") + "\n"
            path.write_text(
                text + nlu_block(key, language, "new test sentences, never copies of training ones"), encoding="utf-8"
            )


def new_problem(root: Path, key: str, title: Optional[str] = None) -> List[str]:
    """Add every entry a new guide needs; returns the files touched."""
    if not KEY_PATTERN.match(key or ""):
        raise ScaffoldError(
            f"'{key}' is not a usable key: use 3-41 lower-case letters, digits and _, "
            "starting with a letter (for example shared_mailbox)"
        )
    raw = yaml.safe_load(knowledge_file(root).read_text(encoding="utf-8"))
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8"))
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents") or []}
    if key in intents or any(p.get("key") == key for p in raw.get("problems") or []):
        raise ScaffoldError(f"'{key}' already exists (as a problem or an intent): pick another key")
    title = (title or key.replace("_", " ").capitalize()).replace('"', "'")
    languages = _languages(root)
    problems = raw.get("problems") or []
    add_to_knowledge(root, key, title, languages)
    add_to_domain(root, key, problems[-1]["intent"] if problems else None)
    written = write_nlu_files(root, key, languages)
    add_rule(root, key, title)
    story = write_test_story(root, key, title)
    add_heldout(root, key, languages)
    touched = [str(get_settings().knowledge_file), "domain.yml", "data/rules.yml"]
    touched += [str(p.relative_to(root)) for p in written + [story]]
    touched += [f"tests/nlu/{p.name}" for p in sorted((root / "tests" / "nlu").glob("heldout*.yml"))]
    return touched


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    problem = sub.add_parser("new-problem", help="scaffold a new troubleshooting guide")
    problem.add_argument("key", help="lower_case key, also the intent name (e.g. shared_mailbox)")
    problem.add_argument("--title", help="the guide's title as users see it")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    try:
        touched = new_problem(args.root, args.key, args.title)
    except ScaffoldError as error:
        print(f"Can't scaffold: {error}", file=sys.stderr)
        return 2
    print(f"Scaffolded the guide '{args.key}'. Fill in every TODO in:")
    for name in touched:
        print(f"  {name}")
    print(
        "Then run `make responses` (the help menu lists the problems), `make check-data` until it says OK, "
        "and `make test`. See TRAINING.md."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
