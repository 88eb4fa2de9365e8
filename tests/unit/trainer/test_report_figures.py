"""trainer/report_figures.py: per-intent figures, pairs, fallbacks and the confusion matrix on hand-made rows."""

from __future__ import annotations

from typing import Any, Dict, List

from trainer.report_figures import (
    confused_pairs,
    confusion_matrix,
    fallbacks,
    headline,
    language_of,
    macro_f1,
    per_intent,
    split_by_language,
    summary,
)


def by_label(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {entry.label: entry for entry in per_intent(rows)}


def test_per_intent_precision_recall_f1_support(cv_rows):
    table = by_label(cv_rows)
    assert list(table) == sorted(table)
    assert set(table) == {"faq/password_rules", "forgot_password", "greet", "out_of_scope", "verification_failed"}
    forgot = table["forgot_password"]  # 3 of 4 right; 6 counted as forgot_password
    assert (forgot.precision, forgot.recall, forgot.f1, forgot.support) == (0.5, 0.75, 0.6, 4)
    verification = table["verification_failed"]  # 2 of 4 right; 3 counted as verification_failed
    assert (verification.precision, verification.recall, verification.f1) == (0.6667, 0.5, 0.5714)
    faq = table["faq/password_rules"]
    assert (faq.precision, faq.recall, faq.support) == (1.0, 0.5, 2)


def test_out_of_scope_fallback_counts_as_declined_but_in_scope_fallback_is_a_miss(cv_rows):
    table = by_label(cv_rows)
    assert (table["out_of_scope"].precision, table["out_of_scope"].recall) == (1.0, 0.6667)
    assert (table["greet"].precision, table["greet"].recall) == (1.0, 0.5)


def test_macro_f1_is_the_plain_mean_of_intent_f1(cv_rows):
    table = per_intent(cv_rows)
    assert macro_f1(table) == round(sum(entry.f1 for entry in table) / 5, 4)
    assert macro_f1([]) == 0.0


def test_summary_uses_evaluate_nlu_scoring(cv_rows):
    figures = summary(cv_rows)
    assert figures["intent_accuracy"] == round(7 / 12, 4)
    assert figures["oos_recall"] == round(2 / 3, 4)
    assert (figures["utterances"], figures["in_scope_utterances"], figures["oos_utterances"]) == (15, 12, 3)
    assert figures["per_intent"]["forgot_password"] == {"total": 4, "correct": 3}


def test_confused_pairs_count_both_ways_with_most_confident_examples(cv_rows):
    pairs = confused_pairs(cv_rows)
    assert [(p.first, p.second, p.first_as_second, p.second_as_first) for p in pairs] == [
        ("forgot_password", "verification_failed", 1, 2),
        ("faq/code_expiry", "faq/password_rules", 0, 1),
        ("forgot_password", "out_of_scope", 0, 1),
    ]
    assert pairs[0].total == 3
    assert [e["text"] for e in pairs[0].examples] == [
        "locked out at login",
        "cant login after forgetting it",
        "security answers rejected",
    ]
    limited = confused_pairs(cv_rows, top=1, examples=2)
    assert len(limited) == 1 and len(limited[0].examples) == 2


def test_fallbacks_are_listed_apart_from_pairs(cv_rows):
    assert all("nlu_fallback" not in (p.first, p.second) for p in confused_pairs(cv_rows))
    entries = fallbacks(cv_rows)
    assert [(e.label, e.count, e.support, e.examples) for e in entries] == [("greet", 1, 2, ["在吗"])]


def test_confusion_matrix_rows_are_expected_labels_columns_add_predicted_only(cv_rows):
    confusion = confusion_matrix(cv_rows)
    assert "nlu_fallback" not in confusion.rows
    assert confusion.columns[: len(confusion.rows)] == confusion.rows
    assert confusion.columns[len(confusion.rows) :] == ["faq/code_expiry", "nlu_fallback"]
    cell = confusion.matrix[confusion.rows.index("verification_failed")][confusion.columns.index("forgot_password")]
    assert cell == 2
    assert sum(map(sum, confusion.matrix)) == len(cv_rows)


def test_language_split_any_cjk_character_is_zh(cv_rows):
    assert language_of("pw忘了 求助") == "zh"
    assert language_of("password, please!") == "en"
    groups = split_by_language(cv_rows)
    assert list(groups) == ["en", "zh"]
    assert [r["text"] for r in groups["zh"]] == ["pw忘了 求助", "你好", "在吗"]
    assert len(groups["en"]) == 12


def test_headline_figures_per_language(cv_rows, heldout):
    figures = headline(cv_rows, heldout)
    assert figures["cv_accuracy"] == round(7 / 12, 4)
    assert figures["cv_accuracy_zh"] == round(2 / 3, 4)  # pw忘了 and 你好 right, 在吗 fell back
    assert figures["cv_accuracy_en"] == round(5 / 9, 4)
    assert figures["heldout_accuracy_en"] == 0.5
    assert figures["heldout_oos_recall_en"] == 1.0
    assert figures["heldout_accuracy_zh"] is None and figures["heldout_oos_recall_zh"] is None
    assert figures["paraphrase_accuracy_en"] is None  # no paraphrase set in this run


def test_headline_keeps_paraphrase_sets_apart_from_held_out_sets(cv_rows, heldout):
    paraphrase = dict(heldout[0], path="tests/nlu/paraphrase.yml", set="paraphrase")
    paraphrase["rows"] = paraphrase["rows"][:1]  # one right answer
    figures = headline(cv_rows, heldout + [paraphrase])
    assert figures["heldout_accuracy_en"] == 0.5
    assert figures["paraphrase_accuracy_en"] == 1.0 and figures["paraphrase_accuracy_zh"] is None
