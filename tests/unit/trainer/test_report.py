"""The NLU report's aggregation and rendering (trainer/report*.py) on small hand-made results."""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from trainer import report
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
from trainer.report_history import append_history, change, format_change, history_row, read_history
from trainer.report_page import render_html, render_markdown, text_cell, write_confusion_png
from trainer.report_run import config_with_epochs, heldout_language


def row(text: str, expected: str, predicted: str, confidence: float = 0.9) -> Dict[str, Any]:
    return {
        "text": text,
        "expected": expected,
        "predicted": predicted,
        "confidence": confidence,
        "expected_entities": [],
        "entities": [],
    }


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


def by_label(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {entry.label: entry for entry in per_intent(rows)}


# --- figures ----------------------------------------------------------------


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


def test_heldout_language_from_the_file_name():
    assert heldout_language(Path("tests/nlu/heldout.yml")) == "en"
    assert heldout_language(Path("tests/nlu/heldout_zh.yml")) == "zh"


# --- history ----------------------------------------------------------------


def test_history_appends_one_row_per_run_and_never_rewrites(tmp_path):
    path = tmp_path / "history.csv"
    meta = {"date": "2026-11-27 10:00", "commit": "abc1234", "folds": 5, "epochs": None, "seed": 42}
    append_history(path, history_row(meta, {"cv_accuracy": 0.9, "heldout_accuracy_zh": None}))
    first = path.read_text(encoding="utf-8")
    append_history(path, history_row(dict(meta, date="2026-11-27 11:00"), {"cv_accuracy": 0.912}))
    assert path.read_text(encoding="utf-8").startswith(first)
    rows = read_history(path)
    assert [r["cv_accuracy"] for r in rows] == ["0.9000", "0.9120"]
    assert rows[0]["epochs"] == "" and rows[0]["heldout_accuracy_zh"] == ""
    assert rows[1]["heldout_accuracy_zh"] == ""  # a column this run lacked stays empty
    assert path.read_text(encoding="utf-8").count("date,commit") == 1


def test_history_keeps_an_older_header(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("date,cv_accuracy\n2026-11-01,0.8000\n", encoding="utf-8")
    append_history(path, history_row({"date": "2026-11-02"}, {"cv_accuracy": 0.85, "cv_macro_f1": 0.7}))
    with path.open(encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [["date", "cv_accuracy"], ["2026-11-01", "0.8000"], ["2026-11-02", "0.8500"]]


def test_change_since_the_previous_comparable_run():
    history = [
        {"folds": "5", "epochs": "", "seed": "42", "cv_accuracy": "0.9000", "heldout_accuracy_en": "0.9500"},
        {"folds": "2", "epochs": "3", "seed": "42", "cv_accuracy": "0.4000", "heldout_accuracy_en": "0.9600"},
        {"folds": "5", "epochs": "", "seed": "42", "cv_accuracy": "0.9120", "heldout_accuracy_en": "0.9400"},
        {"folds": "5", "epochs": "", "seed": "42", "cv_accuracy": "", "heldout_accuracy_en": "0.9400"},
    ]
    assert change(history, 0, "cv_accuracy") is None
    assert change(history, 1, "cv_accuracy") is None  # the quick run has no earlier quick run
    assert change(history, 2, "cv_accuracy") == pytest.approx(0.012)  # against run 0, not the quick run
    assert change(history, 2, "heldout_accuracy_en") == pytest.approx(-0.02)  # held-out: any run
    assert change(history, 3, "cv_accuracy") is None
    assert change(history, 3, "heldout_accuracy_en") == 0.0
    assert format_change(0.012) == "+0.012"
    assert format_change(-0.0046) == "-0.005"
    assert format_change(0.0) == "±0.000"
    assert format_change(None) == ""


# --- page and picture ---------------------------------------------------------


def results_of(cv_rows, heldout) -> Dict[str, Any]:
    meta = {
        "date": "2026-11-27 12:00",
        "commit": "abc1234",
        "data_hash": "0123456789ab",
        "data": "data",
        "config": "config.yml",
        "config_hash": "ffffffffffff",
        "folds": 5,
        "epochs": None,
        "seed": 42,
        "model": "models/x.tar.gz",
        "heldout_files": ["tests/nlu/heldout.yml"],
        "cv_seconds": 1,
    }
    return {"meta": meta, "cv": cv_rows, "heldout": heldout}


def test_markdown_has_figures_tables_picture_pairs_and_history(cv_rows, heldout):
    history = [
        {
            "date": "2026-11-26 12:00",
            "commit": "aaa",
            "data_hash": "d1",
            "folds": "5",
            "epochs": "",
            "seed": "42",
            "cv_accuracy": "0.5713",
        },
        {
            "date": "2026-11-27 12:00",
            "commit": "abc1234",
            "data_hash": "d2",
            "folds": "5",
            "epochs": "",
            "seed": "42",
            "cv_accuracy": "0.5833",
        },
    ]
    page = render_markdown(results_of(cv_rows, heldout), history, "confusion_matrix.png")
    assert "- **git commit**: `abc1234`" in page and "`0123456789ab`" in page
    assert "left out of the cross-validation" not in page
    assert "| CV intent accuracy (in scope) | 0.5833 | 0.5556 | 0.6667 |" in page
    assert "| held-out intent accuracy (in scope) | — | 0.5000 | — |" in page
    assert "| `forgot_password` | 0.500 | 0.750 | 0.600 | 4 | 1/1 |" in page
    assert "| `greet` | 1.000 | 0.500 | 0.667 | 2 | — |" in page
    assert "![Confusion matrix of the cross-validation](confusion_matrix.png)" in page
    assert (
        "1. **`forgot_password` ↔ `verification_failed`**: 3 (`forgot_password` → `verification_failed` 1, "
        "`verification_failed` → `forgot_password` 2)"
    ) in page
    assert "“locked out at login” — `verification_failed` → `forgot_password` (0.95)" in page
    assert "- `greet`: 1 of 2 — e.g. “在吗”" in page
    assert "0.5833 (+0.012)" in page
    assert page.index("2026-11-27 12:00 | `abc1234`") < page.index("2026-11-26 12:00 | `aaa`")  # newest first


def test_labels_left_out_of_the_cross_validation_are_named(cv_rows, heldout):
    results = results_of(cv_rows, heldout)
    results["meta"]["dropped_labels"] = ["faq/new_key"]
    page = render_markdown(results, [], "confusion_matrix.png")
    assert "- **left out of the cross-validation** (fewer examples than folds): `faq/new_key`" in page


def test_a_missing_input_is_reported_before_any_work(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        report.main(["--config", str(tmp_path / "nope.yml"), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_utterances_cannot_inject_markup(cv_rows, heldout):
    assert text_cell("a|b <script>") == "a\\|b &lt;script&gt;"
    html = render_html(render_markdown(results_of(cv_rows, heldout), [], "confusion_matrix.png"))
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert '<img alt="Confusion matrix of the cross-validation" src="confusion_matrix.png"' in html
    assert "<table>" in html


def png_size(path: Path) -> tuple:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_confusion_png_is_written_and_grows_with_the_labels(tmp_path, cv_rows):
    small = tmp_path / "small.png"
    write_confusion_png(confusion_matrix(cv_rows), small)
    assert small.stat().st_size > 1000
    many = [
        row(f"utterance {i}", f"intent_{i:02d}", f"intent_{(i + 1) % 30:02d}" if i % 5 == 0 else f"intent_{i:02d}")
        for i in range(30)
    ]
    large = tmp_path / "large.png"
    write_confusion_png(confusion_matrix(many), large)
    (small_width, _), (large_width, large_height) = png_size(small), png_size(large)
    assert large_width > small_width and large_width >= 1500 and large_height >= 1300


# --- command ----------------------------------------------------------------


def test_epochs_override_writes_a_copy(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "language": "en",
                "pipeline": [
                    {"name": "SpacyNLP", "model": "x"},
                    {"name": "DIETClassifier", "epochs": 100},
                    {"name": "ResponseSelector", "epochs": 100, "retrieval_intent": "faq"},
                    {"name": "FallbackClassifier"},
                ],
                "policies": [{"name": "TEDPolicy"}, {"name": "RulePolicy"}],
            }
        ),
        encoding="utf-8",
    )
    before = config.read_text(encoding="utf-8")
    copy = config_with_epochs(config, 3, tmp_path / "..")
    settings = yaml.safe_load(copy.read_text(encoding="utf-8"))
    assert [c.get("epochs") for c in settings["pipeline"]] == [None, 3, 3, None]
    assert [c.get("epochs") for c in settings["policies"]] == [3, None]
    assert settings["pipeline"][2]["retrieval_intent"] == "faq"
    assert config.read_text(encoding="utf-8") == before and copy != config


def test_rerender_from_saved_results_appends_history(tmp_path, cv_rows, heldout, capsys):
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "results.json").write_text(json.dumps(results_of(cv_rows, heldout)), encoding="utf-8")
    out = tmp_path / "report"
    assert report.main(["--from-results", str(saved), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "CV intent accuracy" in printed and "0.5833" in printed and str(out / "index.md") in printed
    for name in ("index.md", "index.html", "confusion_matrix.png", "history.csv", "results.json"):
        assert (out / name).stat().st_size > 0
    assert len(read_history(out / "history.csv")) == 1
    assert report.main(["--from-results", str(out), "--out", str(out)]) == 0
    assert len(read_history(out / "history.csv")) == 2
    assert "0.5833 (±0.000)" in (out / "index.md").read_text(encoding="utf-8")


def test_missing_saved_results_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="No saved results"):
        report.main(["--from-results", str(tmp_path), "--out", str(tmp_path / "out")])


def test_options_are_checked():
    with pytest.raises(SystemExit):
        report.parse_args(["--folds", "1"])
    args = report.parse_args(["--folds", "3", "--epochs", "2", "--heldout", "a.yml", "--heldout", "b_zh.yml"])
    assert (args.folds, args.epochs, args.heldout) == (3, 2, [Path("a.yml"), Path("b_zh.yml")])
    assert report.parse_args([]).epochs is None


def test_folds_are_seeded_stratified_and_test_every_utterance_once():
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from trainer.report_run import drop_rare_labels, make_folds

    examples = [
        Message(
            data={
                "text": f"{label} {i}",
                "intent": label.split("/")[0],
                **({"intent_response_key": label} if "/" in label else {}),
            }
        )
        for label, count in (("greet", 6), ("faq/a", 4), ("faq/b", 4), ("rare", 1))
        for i in range(count)
    ]
    data, dropped = drop_rare_labels(TrainingData(training_examples=examples), 2)
    assert dropped == ["rare"]
    folds = list(make_folds(data, 2, seed=7))
    tested = [m.get("text") for _, test in folds for m in test.intent_examples]
    assert sorted(tested) == sorted(m.get("text") for m in data.intent_examples)
    for train, test in folds:
        assert [m.get_full_intent() for m in test.intent_examples].count("faq/a") == 2
        assert not {m.get("text") for m in train.intent_examples} & {m.get("text") for m in test.intent_examples}
    again = [[m.get("text") for m in test.intent_examples] for _, test in make_folds(data, 2, seed=7)]
    assert again == [[m.get("text") for m in test.intent_examples] for _, test in folds]
