"""Fixtures for the trainer tests: small hand-made cross-validation and held-out results."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from tests.nlu_rows import row


@pytest.fixture
def cv_rows() -> List[Dict[str, Any]]:
    return [
        row("forgot my password", "forgot_password", "forgot_password"),
        row("reset pw", "forgot_password", "forgot_password"),
        row("pw忘了 求助", "forgot_password", "forgot_password"),
        row("cant login after forgetting it", "forgot_password", "verification_failed", 0.8),
        row("2fa fails abroad", "verification_failed", "verification_failed"),
        row("sms code never arrives", "verification_failed", "verification_failed"),
        row("security answers rejected", "verification_failed", "forgot_password", 0.6),
        row("locked out at login", "verification_failed", "forgot_password", 0.95),
        row("how long must a password be", "faq/password_rules", "faq/password_rules"),
        row("password rules <b>|</b>", "faq/password_rules", "faq/code_expiry", 0.7),
        row("what's the weather", "out_of_scope", "out_of_scope"),
        row("order a pizza", "out_of_scope", "nlu_fallback", 0.5),
        row("forgot my wifi password", "out_of_scope", "forgot_password", 0.55),
        row("你好", "greet", "greet"),
        row("在吗", "greet", "nlu_fallback", 0.5),
    ]


@pytest.fixture
def heldout() -> List[Dict[str, Any]]:
    return [
        {
            "path": "tests/nlu/heldout.yml",
            "language": "en",
            "rows": [
                row("i forgot my password", "forgot_password", "forgot_password"),
                row("verification broken", "verification_failed", "forgot_password", 0.7),
                row("tell me a joke", "out_of_scope", "out_of_scope"),
                row("book a flight", "out_of_scope", "nlu_fallback", 0.5),
            ],
        }
    ]
