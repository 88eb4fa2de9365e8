"""The NLU report's history: one CSV row per run, appended and never rewritten.

The header is written once, when the file is created; later runs append under
that header (a figure the header lacks is left out, one it has but the run lacks
stays empty). The change of a figure is measured against the latest earlier run
that has it: for cross-validation figures only runs with the same folds, epochs
and seed count, because those settings move the figures by themselves; held-out
figures always come from the full model, so any earlier run counts.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

RUN_FIELDS = ["date", "commit", "data_hash", "config", "config_hash", "folds", "epochs", "seed", "model"]
CV_SETTINGS = ("folds", "epochs", "seed")

HistoryRow = Dict[str, str]


def history_row(meta: Mapping[str, object], figures: Mapping[str, Optional[float]]) -> HistoryRow:
    """A CSV row: the run's settings, then each figure (empty when not measured)."""
    row = {name: "" if meta.get(name) is None else str(meta.get(name)) for name in RUN_FIELDS}
    row.update({name: "" if value is None else f"{value:.4f}" for name, value in figures.items()})
    return row


def append_history(path: Path, row: HistoryRow) -> None:
    """Append one row; the header is written only when the file is new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > 0:
        with path.open(encoding="utf-8", newline="") as handle:
            fields = next(csv.reader(handle))
        new = False
    else:
        fields, new = list(row), True
    with path.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore", restval="")
        if new:
            writer.writeheader()
        writer.writerow(row)


def read_history(path: Path) -> List[HistoryRow]:
    """All rows, oldest first; no file means no history."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _number(text: Optional[str]) -> Optional[float]:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _comparable(figure: str, row: HistoryRow, earlier: HistoryRow) -> bool:
    if not figure.startswith("cv_"):
        return True
    return all(row.get(name, "") == earlier.get(name, "") for name in CV_SETTINGS)


def change(history: Sequence[HistoryRow], index: int, figure: str) -> Optional[float]:
    """Change of `figure` in row `index` since the latest comparable earlier row with a value."""
    value = _number(history[index].get(figure))
    if value is None:
        return None
    for earlier in reversed(history[:index]):
        before = _number(earlier.get(figure))
        if before is not None and _comparable(figure, history[index], earlier):
            return round(value - before, 4)
    return None


def format_change(delta: Optional[float]) -> str:
    """`+0.012`, `-0.004`, `±0.000`; empty for a first measurement."""
    if delta is None:
        return ""
    if round(delta, 3) == 0:
        return "±0.000"
    return f"{delta:+.3f}"
