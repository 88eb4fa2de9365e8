"""trainer/evaluate.py: how a prediction is read and scored, on hand-made rows."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pytest

from trainer.evaluate import entity_set, is_correct, predicted_intent, score


def row(
    expected: str,
    predicted: str,
    expected_entities: Optional[List[Tuple[str, str]]] = None,
    entities: Optional[List[Tuple[str, str]]] = None,
) -> Dict[str, Any]:
    return {
        "text": f"{expected} -> {predicted}",
        "expected": expected,
        "predicted": predicted,
        "confidence": 0.9,
        "expected_entities": [list(e) for e in expected_entities or []],  # as read back from the JSON report
        "entities": [list(e) for e in entities or []],
    }


def test_the_predicted_intent_is_the_full_faq_key_for_retrieval_intents() -> None:
    faq = {
        "intent": {"name": "faq", "confidence": 0.8},
        "response_selector": {"faq": {"response": {"intent_response_key": "faq/code_expiry"}}},
    }
    assert predicted_intent(faq) == "faq/code_expiry"
    assert predicted_intent({"intent": {"name": "faq"}, "response_selector": {"faq": {"response": {}}}}) == "faq"
    assert predicted_intent({"intent": {"name": "greet"}, "response_selector": {"faq": {}}}) == "greet"
    assert predicted_intent({"intent": None}) == "None"


def test_the_language_tag_is_not_a_scored_entity() -> None:
    found = entity_set(
        [
            {"entity": "error_code", "value": "ESO_LOCAL_SPAM"},
            {"entity": "message_language", "value": "zh"},
            {"entity": "ticket_id", "value": 42},
        ]
    )
    assert found == {("error_code", "ESO_LOCAL_SPAM"), ("ticket_id", "42")}


@pytest.mark.parametrize(
    "expected, predicted, correct",
    [
        ("forgot_password", "forgot_password", True),
        ("forgot_password", "verification_failed", False),
        ("forgot_password", "nlu_fallback", False),  # a fallback is a miss in scope
        ("faq/code_expiry", "faq/code_expiry", True),
        ("faq/code_expiry", "faq/password_rules", False),
        ("faq/code_expiry", "faq", False),
        ("out_of_scope", "out_of_scope", True),
        ("out_of_scope", "nlu_fallback", True),  # declined either way
        ("out_of_scope", "greet", False),
    ],
)
def test_is_correct(expected: str, predicted: str, correct: bool) -> None:
    assert is_correct(row(expected, predicted)) is correct


def test_score_separates_in_scope_accuracy_from_out_of_scope_recall() -> None:
    rows = [
        row("forgot_password", "forgot_password"),
        row("forgot_password", "nlu_fallback"),
        row("faq/code_expiry", "faq/code_expiry"),
        row("greet", "greet"),
        row("out_of_scope", "out_of_scope"),
        row("out_of_scope", "nlu_fallback"),
        row("out_of_scope", "forgot_password"),
    ]
    figures = score(rows)
    assert (figures["intent_accuracy"], figures["in_scope_utterances"]) == (0.75, 4)
    assert (figures["oos_recall"], figures["oos_utterances"]) == (0.6667, 3)
    assert figures["per_intent"] == {
        "faq/code_expiry": {"total": 1, "correct": 1},
        "forgot_password": {"total": 2, "correct": 1},
        "greet": {"total": 1, "correct": 1},
        "out_of_scope": {"total": 3, "correct": 2},
    }
    assert [(e["expected"], e["predicted"]) for e in figures["errors"]] == [
        ("forgot_password", "nlu_fallback"),
        ("out_of_scope", "forgot_password"),
    ]


def test_entity_precision_recall_and_support_per_type() -> None:
    rows = [
        row("eso_local_spam", "eso_local_spam", [("error_code", "ESO_LOCAL_SPAM")], [("error_code", "ESO_LOCAL_SPAM")]),
        row(
            "marked_as_spam",
            "marked_as_spam",
            [("error_code", "SpamDetected")],
            [("error_code", "InvalidEmailContent")],
        ),
        row("ticket_status", "ticket_status", [("ticket_id", "ALM-000042")], []),
        row("greet", "greet", [], [("role", "user")]),
    ]
    assert score(rows)["entities"] == {
        "error_code": {"precision": 0.5, "recall": 0.5, "support": 2},
        "role": {"precision": 0.0, "recall": 0.0, "support": 0},
        "ticket_id": {"precision": 0.0, "recall": 0.0, "support": 1},
    }


def test_no_rows_scores_zero_without_dividing_by_zero() -> None:
    figures = score([])
    assert (figures["intent_accuracy"], figures["oos_recall"], figures["errors"]) == (0.0, 0.0, [])
