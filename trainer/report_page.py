"""The NLU report's page: Markdown (and HTML from it) and the confusion-matrix picture.

`render_markdown` takes the saved results (see `trainer.report`), the history
rows and the picture's file name, and returns the page; every section is one
small function returning Markdown lines.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from trainer.report_figures import (
    ConfusedPair,
    Confusion,
    Row,
    confused_pairs,
    fallbacks,
    per_intent,
    set_kind,
    set_label,
    split_by_language,
    summary,
)
from trainer.report_history import HistoryRow, change, format_change

HISTORY_SHOWN = 20
HISTORY_COLUMNS = [
    ("cv_accuracy", "CV accuracy"),
    ("cv_macro_f1", "CV macro F1"),
    ("cv_accuracy_en", "CV en"),
    ("cv_accuracy_zh", "CV zh"),
    ("heldout_accuracy_en", "held-out en"),
    ("heldout_oos_recall_en", "OOS recall en"),
    ("heldout_accuracy_zh", "held-out zh"),
    ("heldout_oos_recall_zh", "OOS recall zh"),
    ("paraphrase_accuracy_en", "paraphrase en"),
    ("paraphrase_accuracy_zh", "paraphrase zh"),
]
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def text_cell(text: str) -> str:
    """Utterance text safe inside Markdown (and the HTML made from it): markup is escaped."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def figure(value: Optional[float]) -> str:
    """A figure with 4 decimals, `—` when not measured."""
    return "—" if value is None else f"{value:.4f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: Optional[str] = None) -> List[str]:
    """A Markdown table; `align` has one letter per column (`l` or `r`)."""
    align = align or "l" * len(headers)
    marks = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def header_section(meta: Mapping[str, Any]) -> List[str]:
    """Title and what was measured: date, commit, data hash, settings."""
    epochs = f", epochs overridden to {meta['epochs']}" if meta.get("epochs") else ""
    heldout = ", ".join(f"`{entry}`" for entry in meta.get("heldout_files") or []) or "none"
    return (
        [
            "# NLU report",
            "",
            f"- **date**: {meta.get('date', '?')}",
            f"- **git commit**: `{meta.get('commit', '?')}`",
            f"- **data hash**: `{meta.get('data_hash', '?')}` (training data and held-out files)",
            f"- **cross-validation**: {meta.get('folds')} folds (seed {meta.get('seed')}) on `{meta.get('data')}` "
            f"with `{meta.get('config')}` (hash `{meta.get('config_hash')}`{epochs}), "
            f"{meta.get('cv_seconds', '?')} s",
            f"- **held-out**: {heldout} against `{meta.get('model')}`",
        ]
        + _dropped_line(meta.get("dropped_labels") or [])
        + [""]
    )


def _dropped_line(dropped: Sequence[str]) -> List[str]:
    if not dropped:
        return []
    names = ", ".join(f"`{label}`" for label in dropped)
    return [f"- **left out of the cross-validation** (fewer examples than folds): {names}"]


def _overall_rows(cv_rows: Sequence[Row], heldout: Sequence[Dict[str, Any]], languages: List[str]) -> List[List[str]]:
    cv_all = summary(cv_rows)
    cv_lang = {lang: summary(rows) for lang, rows in split_by_language(cv_rows).items()}
    held = {entry["language"]: summary(entry["rows"]) for entry in heldout if set_kind(entry) == "heldout"}
    para = {entry["language"]: summary(entry["rows"]) for entry in heldout if set_kind(entry) == "paraphrase"}

    def cells(source: Dict[str, Dict[str, Any]], key: str) -> List[str]:
        return [figure(source[lang][key]) if lang in source else "—" for lang in languages]

    def counts(source: Dict[str, Dict[str, Any]], key: str) -> List[str]:
        return [str(source[lang][key]) if lang in source else "—" for lang in languages]

    rows = [
        ["CV intent accuracy (in scope)", figure(cv_all["intent_accuracy"])] + cells(cv_lang, "intent_accuracy"),
        ["CV macro F1", figure(cv_all["macro_f1"])] + cells(cv_lang, "macro_f1"),
        ["CV out-of-scope recall", figure(cv_all["oos_recall"])] + cells(cv_lang, "oos_recall"),
        ["CV utterances", str(cv_all["utterances"])] + counts(cv_lang, "utterances"),
        ["held-out intent accuracy (in scope)", "—"] + cells(held, "intent_accuracy"),
        ["held-out out-of-scope recall", "—"] + cells(held, "oos_recall"),
        ["held-out utterances", "—"] + counts(held, "utterances"),
    ]
    if para:
        rows += [
            ["paraphrase intent accuracy (in scope)", "—"] + cells(para, "intent_accuracy"),
            ["paraphrase out-of-scope recall", "—"] + cells(para, "oos_recall"),
            ["paraphrase utterances", "—"] + counts(para, "utterances"),
        ]
    return rows


def overall_section(cv_rows: Sequence[Row], heldout: Sequence[Dict[str, Any]]) -> List[str]:
    """Headline figures: CV overall and per language, held-out per language."""
    languages = list(dict.fromkeys(list(split_by_language(cv_rows)) + [e["language"] for e in heldout]))
    files = "; ".join(f"{set_label(e)}: `{e['path']}`" for e in heldout) or "no held-out file"
    rows = _overall_rows(cv_rows, heldout, languages)
    return (
        ["## Overall figures", ""]
        + table(["figure", "all"] + languages, rows, "l" + "r" * (1 + len(languages)))
        + [
            "",
            f"Test files: {files}. Intent accuracy counts in-scope utterances whose exact "
            "intent (FAQ key included) was predicted; a fallback is a miss. Out-of-scope recall counts "
            "out-of-scope utterances answered `out_of_scope` or `nlu_fallback`. Macro F1 is the plain "
            "mean of the per-intent F1 below. An utterance with any Chinese character counts as zh.",
            "",
        ]
    )


def history_section(history: Sequence[HistoryRow]) -> List[str]:
    """The latest runs, newest first, each figure with its change since the previous comparable run."""
    if not history:
        return []
    rows = []
    start = max(0, len(history) - HISTORY_SHOWN)
    for index in range(len(history) - 1, start - 1, -1):
        run = history[index]
        settings = f"{run.get('folds', '')} folds" + (f", {run['epochs']} epochs" if run.get("epochs") else "")
        cells = [run.get("date", ""), f"`{run.get('commit', '')}`", f"`{run.get('data_hash', '')}`", settings]
        for name, _ in HISTORY_COLUMNS:
            value = run.get(name, "")
            delta = format_change(change(history, index, name))
            cells.append(f"{value} ({delta})" if value and delta else (value or "—"))
        rows.append(cells)
    return (
        [
            "## History",
            "",
            f"The last {min(HISTORY_SHOWN, len(history))} of {len(history)} runs (all in `history.csv`), newest "
            "first. In brackets: the change since the previous run — for CV figures the previous run with "
            "the same folds and epochs, since a quick run with fewer epochs scores lower by itself.",
            "",
        ]
        + table(
            ["date", "commit", "data", "settings"] + [label for _, label in HISTORY_COLUMNS],
            rows,
            "llll" + "r" * len(HISTORY_COLUMNS),
        )
        + [""]
    )


def _heldout_cell(entry: Dict[str, Any], label: str) -> str:
    counts = summary(entry["rows"])["per_intent"].get(label)
    return f"{counts['correct']}/{counts['total']}" if counts else "—"


def per_intent_section(cv_rows: Sequence[Row], heldout: Sequence[Dict[str, Any]]) -> List[str]:
    """Per-intent precision/recall/F1/support from CV (worst F1 first), with held-out hits per file."""
    entries = sorted(per_intent(cv_rows), key=lambda e: (e.f1, e.label))
    rows = [
        [f"`{e.label}`", f"{e.precision:.3f}", f"{e.recall:.3f}", f"{e.f1:.3f}", str(e.support)]
        + [_heldout_cell(h, e.label) for h in heldout]
        for e in entries
    ]
    headers = ["intent", "precision", "recall", "F1", "support"] + [set_label(h) for h in heldout]
    return (
        [
            "## Per intent (cross-validation)",
            "",
            "Worst F1 first. Support is the number of training utterances; the held-out and paraphrase "
            "columns give the utterances recognised of those tested.",
            "",
        ]
        + table(headers, rows, "l" + "r" * (len(headers) - 1))
        + [""]
    )


def confusion_section(png_name: str) -> List[str]:
    """The confusion-matrix picture."""
    return [
        "## Confusion matrix (cross-validation)",
        "",
        "Rows: the intent the utterance belongs to; columns: what was predicted (colour: share of the "
        "row, number: utterances; mistakes in red).",
        "",
        f"![Confusion matrix of the cross-validation]({png_name})",
        "",
    ]


def _pair_lines(number: int, pair: ConfusedPair) -> List[str]:
    lines = [
        f"{number}. **`{pair.first}` ↔ `{pair.second}`**: {pair.total} "
        f"(`{pair.first}` → `{pair.second}` {pair.first_as_second}, "
        f"`{pair.second}` → `{pair.first}` {pair.second_as_first})"
    ]
    for row in pair.examples:
        lines.append(
            f"    - “{text_cell(row['text'])}” — `{row['expected']}` → `{row['predicted']}` "
            f"({row.get('confidence', 0.0):.2f})"
        )
    return lines


def _fallback_lines(rows: Sequence[Row]) -> List[str]:
    entries = fallbacks(rows)
    if not entries:
        return ["No in-scope utterance fell back to `nlu_fallback`.", ""]
    lines = ["In-scope utterances answered `nlu_fallback` (not sure enough of any intent), most first:", ""]
    for entry in entries:
        quoted = ", ".join(f"“{text_cell(text)}”" for text in entry.examples)
        lines.append(f"- `{entry.label}`: {entry.count} of {entry.support} — e.g. {quoted}")
    return lines + [""]


def pairs_section(title: str, rows: Sequence[Row], top: int = 10) -> List[str]:
    """The most confused intent pairs (counts both ways, example utterances), then the fallbacks."""
    pairs = confused_pairs(rows, top=top)
    lines = [f"## {title}", ""]
    if not pairs:
        lines += ["No intent was mistaken for another.", ""]
    for number, pair in enumerate(pairs, start=1):
        lines += _pair_lines(number, pair)
    return lines + ([""] if pairs else []) + _fallback_lines(rows)


def render_markdown(results: Mapping[str, Any], history: Sequence[HistoryRow], png_name: str) -> str:
    """The whole report page as Markdown."""
    cv_rows, heldout = results["cv"], results["heldout"]
    lines = header_section(results["meta"]) + overall_section(cv_rows, heldout) + history_section(history)
    lines += per_intent_section(cv_rows, heldout) + confusion_section(png_name)
    lines += pairs_section("Most confused pairs (cross-validation)", cv_rows)
    for entry in heldout:
        lines += pairs_section(f"Most confused pairs ({set_label(entry)}, `{entry['path']}`)", entry["rows"])
    return "\n".join(lines).rstrip() + "\n"


def render_html(markdown_text: str) -> str:
    """A standalone HTML page of the Markdown report."""
    import markdown  # installed with Rasa (tensorboard)

    body = markdown.markdown(markdown_text, extensions=["tables", "sane_lists"])
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #ccc;padding:2px 6px}"
        "img{max-width:100%}code{background:#f4f4f4}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>NLU report</title>'
        f"<style>{style}</style></head><body>\n{body}\n</body></html>\n"
    )


def _figure_size(count: int) -> float:
    return max(6.0, 0.42 * count + 3.0)


def write_confusion_png(confusion: Confusion, path: Path) -> None:
    """Draw the confusion matrix (row-normalised colours, counts in the cells) as a PNG sized
    for its labels, which are rotated along the bottom."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width, height = _figure_size(len(confusion.columns)), _figure_size(len(confusion.rows)) * 0.92
    shares = [[count / max(1, sum(row)) for count in row] for row in confusion.matrix] or [[0.0]]
    fig, ax = plt.subplots(figsize=(width, height))
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(
        range(len(confusion.columns)),
        labels=confusion.columns,
        rotation=60,
        ha="right",
        rotation_mode="anchor",
        fontsize=9,
    )
    ax.set_yticks(range(len(confusion.rows)), labels=confusion.rows, fontsize=9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("expected")
    for i, row in enumerate(confusion.matrix):
        for j, count in enumerate(row):
            if count:
                mistaken = confusion.rows[i] != confusion.columns[j]
                colour = "white" if shares[i][j] > 0.5 else ("#b00000" if mistaken else "black")
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="share of the row")
    ax.set_title("Cross-validation confusion matrix")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
