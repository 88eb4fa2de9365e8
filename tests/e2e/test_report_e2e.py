"""`make report FOLDS=2 REPORT_EPOCHS=3` end to end on the real data: a quick 2-fold, 3-epoch cross-validation,
the held-out sets against the trained model, the page, the picture and the history; then a
re-render from the saved results adds a second history row."""

from __future__ import annotations

import collections
import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from trainer.evaluate import score
from trainer.model_hash import model_hash
from trainer.project import read_project

ROOT = Path(__file__).resolve().parents[2]


def trained_model() -> str:
    """The model `make` trained (ALIMAIL_MODEL), else the Makefile's models/<hash>.tar.gz."""
    model = os.environ.get("ALIMAIL_MODEL") or f"models/{model_hash(ROOT)}.tar.gz"
    path = Path(model) if Path(model).is_absolute() else ROOT / model
    if not path.exists():
        pytest.fail(f"no trained model at {path}: run `make train` first")
    return str(path)


def run_report(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(
        [sys.executable, "-m", "trainer.report", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return done


def training_labels() -> Dict[str, int]:
    """Every intent (FAQ keys included) of data/nlu and its number of examples."""
    return dict(collections.Counter(example.intent for example in read_project(ROOT).training))


def history(path: Path) -> List[Dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_report_end_to_end(tmp_path):
    out = tmp_path / "report"
    # The quick report exactly as TRAINING.md gives it, into a temporary folder.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")}
    done = subprocess.run(
        ["make", "report", "FOLDS=2", "REPORT_EPOCHS=3", f"REPORT_DIR={out}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert "CV intent accuracy" in done.stdout and f"report: {out / 'index.md'}" in done.stdout

    for name in ("index.md", "index.html", "confusion_matrix.png", "history.csv", "results.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "index.md").read_text(encoding="utf-8")
    assert "](confusion_matrix.png)" in page
    assert 'src="confusion_matrix.png"' in (out / "index.html").read_text(encoding="utf-8")

    labels = training_labels()
    table = {line.split("|")[1].strip().strip("`"): line for line in page.splitlines() if line.startswith("| `")}
    assert set(labels) <= set(table), set(labels) - set(table)
    for label in ("forgot_password", "faq/password_rules", "out_of_scope"):
        cells = [cell.strip() for cell in table[label].split("|")[2:6]]
        assert all(0.0 <= float(cell) <= 1.0 for cell in cells[:3]), table[label]
        assert int(cells[3]) > 0

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    cv = results["cv"]
    assert {row["fold"] for row in cv} == {1, 2}
    assert len({(row["text"], row["expected"]) for row in cv}) == len(cv)  # each utterance tested once
    assert len(cv) >= 0.95 * sum(labels.values())
    expected = [
        lang
        for lang, name in (
            ("en", "heldout.yml"),
            ("zh", "heldout_zh.yml"),
            ("en", "paraphrase.yml"),
            ("zh", "paraphrase_zh.yml"),
        )
        if (ROOT / "tests" / "nlu" / name).exists()
    ]
    assert [entry["language"] for entry in results["heldout"]] == expected

    rows = history(out / "history.csv")
    assert len(rows) == 1
    assert (rows[0]["folds"], rows[0]["epochs"]) == ("2", "3")
    assert 0.0 <= float(rows[0]["cv_accuracy"]) <= 1.0
    english = next(entry for entry in results["heldout"] if entry["language"] == "en")
    assert float(rows[0]["heldout_accuracy_en"]) == score(english["rows"])["intent_accuracy"]
    for lang in {entry["language"] for entry in results["heldout"]}:
        assert rows[0][f"cv_accuracy_{lang}"] != ""

    run_report("--from-results", str(out), "--out", str(out))
    rows = history(out / "history.csv")
    assert len(rows) == 2 and rows[1]["cv_accuracy"] == rows[0]["cv_accuracy"]
    assert f"{rows[1]['cv_accuracy']} (±0.000)" in (out / "index.md").read_text(encoding="utf-8")
