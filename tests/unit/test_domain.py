"""domain.yml and the action server agree on the custom actions."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_domain_action_is_implemented_and_every_action_is_in_the_domain():
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    implemented = set(executor.actions)
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    # an action is its name, or {name: {send_domain: true}} (Rasa's selective domain)
    assert {a if isinstance(a, str) else next(iter(a)) for a in domain["actions"]} == implemented
