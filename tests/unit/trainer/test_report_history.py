"""trainer/report_history.py: the history CSV and the change since the previous comparable run."""

from __future__ import annotations

import csv

import pytest

from trainer.report_history import append_history, change, format_change, history_row, read_history


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
