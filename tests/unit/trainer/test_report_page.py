"""trainer/report_page.py: the Markdown and HTML page and the confusion matrix picture."""

from __future__ import annotations

import struct
from pathlib import Path

from tests.nlu_rows import results_of, row
from trainer.report_figures import confusion_matrix
from trainer.report_page import render_html, render_markdown, text_cell, write_confusion_png


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


def test_paraphrase_sets_stand_beside_the_held_out_ones(cv_rows, heldout):
    paraphrase = {
        "path": "tests/nlu/paraphrase.yml",
        "language": "en",
        "set": "paraphrase",
        "rows": [
            row("i can't recall my passcode", "forgot_password", "forgot_password"),
            row("the 2nd login step rejects me", "verification_failed", "verification_failed"),
            row("recommend a podcast", "out_of_scope", "forgot_password", 0.6),
        ],
    }
    page = render_markdown(results_of(cv_rows, heldout + [paraphrase]), [], "confusion_matrix.png")
    assert "| held-out intent accuracy (in scope) | — | 0.5000 | — |" in page  # the held-out figures stay apart
    assert "| paraphrase intent accuracy (in scope) | — | 1.0000 | — |" in page
    assert "| paraphrase out-of-scope recall | — | 0.0000 | — |" in page
    assert "| intent | precision | recall | F1 | support | held-out en | paraphrase en |" in page
    assert "| `forgot_password` | 0.500 | 0.750 | 0.600 | 4 | 1/1 | 1/1 |" in page
    assert "## Most confused pairs (paraphrase en, `tests/nlu/paraphrase.yml`)" in page
