"""actions/history.py: the actions read no older events than Rasa sends them (tools/rasa_patches/ sends
the events from the latest user message on, all of them only to FULL_HISTORY_ACTIONS)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Set, Tuple

import yaml

from actions.history import FULL_HISTORY_ACTIONS

ACTIONS = Path(__file__).resolve().parents[3] / "actions"
# Where the actions read `tracker.events`, and why that is within what they get:
READERS = {
    # walks back to the latest user message and stops there
    ("privacy.py", "_notice_given"),
    # action_submit_ticket (in FULL_HISTORY_ACTIONS): the ticket's transcript
    ("ticket_actions.py", "ActionSubmitTicket.run"),
}


def event_readers() -> Set[Tuple[str, str]]:
    """(file, innermost function as Class.method or function) of every `<something>.events` read."""
    found: Set[Tuple[str, str]] = set()

    def visit(node: ast.AST, file: str, names: Tuple[str, ...]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = (*names, node.name)
        if isinstance(node, ast.Attribute) and node.attr == "events":
            found.add((file, ".".join(names)))
        for child in ast.iter_child_nodes(node):
            visit(child, file, names)

    for path in sorted(ACTIONS.glob("*.py")):
        visit(ast.parse(path.read_text(encoding="utf-8")), path.name, ())
    return found


def test_only_the_known_readers_read_the_events() -> None:
    assert event_readers() == READERS, (
        "an action reads tracker.events: make sure it reads only the current turn, or add it to "
        "actions/history.py FULL_HISTORY_ACTIONS, then list it in READERS"
    )


def test_the_full_history_actions_are_actions_of_the_domain() -> None:
    domain = yaml.safe_load((ACTIONS.parent / "domain.yml").read_text(encoding="utf-8"))
    names = {a if isinstance(a, str) else next(iter(a)) for a in domain["actions"]}
    assert FULL_HISTORY_ACTIONS <= names
