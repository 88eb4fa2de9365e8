"""The NLU report's figures, computed from per-utterance results (no Rasa needed).

A result row is what `trainer/evaluate.py` produces for one utterance:
`{"text", "expected", "predicted", "confidence", "expected_entities", "entities"}`,
where FAQ labels are the full `faq/<key>`. Whether a row counts as right is
`evaluate_nlu.is_correct`: an out-of-scope utterance that falls back counts as
`out_of_scope` (the bot declines it either way); any other fallback is a miss.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from trainer.evaluate import FALLBACK, is_correct, score
from trainer.project import language_of

Row = Dict[str, Any]
LANGUAGES = ("en", "zh")


def split_by_language(rows: Iterable[Row]) -> Dict[str, List[Row]]:
    """Rows grouped by the language of their text, languages in `LANGUAGES` order first."""
    groups: Dict[str, List[Row]] = collections.defaultdict(list)
    for row in rows:
        groups[language_of(row["text"])].append(row)
    order = [lang for lang in LANGUAGES if lang in groups] + sorted(set(groups) - set(LANGUAGES))
    return {lang: groups[lang] for lang in order}


def counted_as(row: Row) -> str:
    """The label a row counts for in tables: the expected one when right, else the prediction."""
    return row["expected"] if is_correct(row) else row["predicted"]


@dataclass(frozen=True)
class IntentFigures:
    """Precision, recall and F1 of one expected label."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def per_intent(rows: Sequence[Row]) -> List[IntentFigures]:
    """One entry per expected label, alphabetical."""
    support = collections.Counter(row["expected"] for row in rows)
    predicted = collections.Counter(counted_as(row) for row in rows)
    hits = collections.Counter(row["expected"] for row in rows if is_correct(row))
    table = []
    for label in sorted(support):
        precision = _ratio(hits[label], predicted[label])
        recall = _ratio(hits[label], support[label])
        table.append(
            IntentFigures(
                label, round(precision, 4), round(recall, 4), round(_f1(precision, recall), 4), support[label]
            )
        )
    return table


def macro_f1(table: Sequence[IntentFigures]) -> float:
    """Unweighted mean F1 over the expected labels."""
    return round(sum(entry.f1 for entry in table) / len(table), 4) if table else 0.0


def summary(rows: Sequence[Row]) -> Dict[str, Any]:
    """Headline figures of a set of rows: evaluate_nlu's accuracy and OOS recall, plus macro F1."""
    scored = score(list(rows))
    return {
        "utterances": len(rows),
        "intent_accuracy": scored["intent_accuracy"],
        "in_scope_utterances": scored["in_scope_utterances"],
        "oos_recall": scored["oos_recall"],
        "oos_utterances": scored["oos_utterances"],
        "macro_f1": macro_f1(per_intent(rows)),
        "per_intent": scored["per_intent"],
    }


@dataclass(frozen=True)
class Confusion:
    """Counts `matrix[i][j]` of utterances of `rows[i]` counted as `columns[j]`. The columns are
    the expected labels, then labels only ever predicted (such as `nlu_fallback`)."""

    rows: List[str]
    columns: List[str]
    matrix: List[List[int]]


def confusion_matrix(rows: Sequence[Row]) -> Confusion:
    """The confusion matrix of a set of rows."""
    expected = sorted({row["expected"] for row in rows})
    columns = expected + sorted({counted_as(row) for row in rows} - set(expected))
    index = {label: i for i, label in enumerate(columns)}
    matrix = [[0] * len(columns) for _ in expected]
    for row in rows:
        matrix[index[row["expected"]]][index[counted_as(row)]] += 1
    return Confusion(expected, columns, matrix)


@dataclass
class ConfusedPair:
    """Two labels mistaken for each other: counts each way and the most confident examples."""

    first: str
    second: str
    first_as_second: int = 0
    second_as_first: int = 0
    examples: List[Row] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.first_as_second + self.second_as_first


def confused_pairs(rows: Sequence[Row], top: int = 10, examples: int = 3) -> List[ConfusedPair]:
    """The `top` intent pairs with the most mistakes (both directions added up), each with up
    to `examples` mistaken utterances, most confident first. Fallbacks are not a pair: see
    `fallbacks`."""
    pairs: Dict[Tuple[str, str], ConfusedPair] = {}
    mistakes: Dict[Tuple[str, str], List[Row]] = collections.defaultdict(list)
    for row in rows:
        if is_correct(row) or row["predicted"] == FALLBACK:
            continue
        expected, predicted = row["expected"], row["predicted"]
        key = tuple(sorted((expected, predicted)))
        pair = pairs.setdefault(key, ConfusedPair(*key))
        if expected == pair.first:
            pair.first_as_second += 1
        else:
            pair.second_as_first += 1
        mistakes[key].append(row)
    ranked = sorted(pairs.values(), key=lambda p: (-p.total, p.first, p.second))[:top]
    for pair in ranked:
        chosen = sorted(mistakes[(pair.first, pair.second)], key=lambda r: (-r.get("confidence", 0.0), r["text"]))
        pair.examples = chosen[:examples]
    return ranked


@dataclass(frozen=True)
class Fallbacks:
    """How many utterances of an intent were answered with the fallback, and examples."""

    label: str
    count: int
    support: int
    examples: List[str]


def fallbacks(rows: Sequence[Row], top: int = 10, examples: int = 3) -> List[Fallbacks]:
    """The `top` intents whose utterances most often fell back (out-of-scope ones are declined
    either way and never count), most first."""
    support = collections.Counter(row["expected"] for row in rows)
    fell: Dict[str, List[str]] = collections.defaultdict(list)
    for row in rows:
        if not is_correct(row) and row["predicted"] == FALLBACK:
            fell[row["expected"]].append(row["text"])
    ranked = sorted(fell, key=lambda label: (-len(fell[label]), label))[:top]
    return [Fallbacks(label, len(fell[label]), support[label], sorted(fell[label])[:examples]) for label in ranked]


SET_LABELS = {"heldout": "held-out", "paraphrase": "paraphrase"}


def set_kind(entry: Dict[str, Any]) -> str:
    """`heldout` or `paraphrase` (results saved before paraphrase sets existed: `heldout`)."""
    return str(entry.get("set") or "heldout")


def set_label(entry: Dict[str, Any]) -> str:
    """How the page names a test set: `held-out en`, `paraphrase zh` ..."""
    return f"{SET_LABELS.get(set_kind(entry), set_kind(entry))} {entry['language']}"


def headline(cv_rows: Sequence[Row], heldout: Sequence[Dict[str, Any]]) -> Dict[str, Optional[float]]:
    """The figures tracked across runs: CV overall and per language, held-out and paraphrase sets per language.

    `heldout` is a list of `{"language", "rows", "set", ...}`; a missing language gives `None`.
    """
    figures: Dict[str, Optional[float]] = {}
    overall = summary(cv_rows) if cv_rows else None
    figures["cv_accuracy"] = overall["intent_accuracy"] if overall else None
    figures["cv_macro_f1"] = overall["macro_f1"] if overall else None
    figures["cv_oos_recall"] = overall["oos_recall"] if overall else None
    by_language = split_by_language(cv_rows)
    held = {entry["language"]: summary(entry["rows"]) for entry in heldout if set_kind(entry) == "heldout"}
    para = {entry["language"]: summary(entry["rows"]) for entry in heldout if set_kind(entry) == "paraphrase"}
    for lang in list(LANGUAGES) + sorted((set(by_language) | set(held) | set(para)) - set(LANGUAGES)):
        cv = summary(by_language[lang]) if lang in by_language else None
        figures[f"cv_accuracy_{lang}"] = cv["intent_accuracy"] if cv else None
        figures[f"cv_macro_f1_{lang}"] = cv["macro_f1"] if cv else None
        figures[f"cv_oos_recall_{lang}"] = cv["oos_recall"] if cv else None
        figures[f"heldout_accuracy_{lang}"] = held[lang]["intent_accuracy"] if lang in held else None
        figures[f"heldout_oos_recall_{lang}"] = held[lang]["oos_recall"] if lang in held else None
        figures[f"paraphrase_accuracy_{lang}"] = para[lang]["intent_accuracy"] if lang in para else None
        figures[f"paraphrase_oos_recall_{lang}"] = para[lang]["oos_recall"] if lang in para else None
    return figures
