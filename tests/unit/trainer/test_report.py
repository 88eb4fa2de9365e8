"""trainer/report.py: the command (options, saved results, re-rendering and history)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.nlu_rows import results_of
from trainer import report
from trainer.report_history import read_history


def test_a_missing_input_is_reported_before_any_work(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        report.main(["--config", str(tmp_path / "nope.yml"), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


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
