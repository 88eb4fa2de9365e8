"""The NLU report's measurements, made with Rasa's Python API.

Cross-validation: the NLU examples of the data folder are split into stratified
folds (seeded, so two runs on the same data test the same utterances); for each
fold an NLU model is trained on the rest with `rasa.model_training.train_nlu`
and the fold is parsed with `trainer/evaluate.py`'s `predict`. That gives
one row per utterance with the full predicted label — `faq/<key>` for FAQs,
which `rasa test nlu --cross-validation` only reports for utterances that are
FAQs — and, unlike Rasa's cross-validation, does not also parse every training
fold. Held-out sets: `predict` on the trained model, one file per language.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

import yaml

from trainer.evaluate import load_agent, predict, predict_with_agent

Row = Dict[str, Any]
Log = Callable[[str], None]
EPOCH_COMPONENTS = {"DIETClassifier", "ResponseSelector", "TEDPolicy", "UnexpecTEDIntentPolicy"}
_LANGUAGE_SUFFIX = re.compile(r"_([a-z]{2})\.ya?ml$")


def say(message: str) -> None:
    """Progress on stdout, shown at once even when piped."""
    print(message, flush=True)


def prepare_environment() -> None:
    """Quiet TensorFlow, no telemetry, and no training cache for the fold models: they are
    thrown away and would push the entries that speed up `make train` out of `.rasa/cache`.
    Call before Rasa is imported; settings already in the environment win."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("RASA_MAX_CACHE_SIZE", "0")


def config_with_epochs(config: Path, epochs: int, folder: Path) -> Path:
    """A copy of `config` in `folder` with `epochs: N` on every component that trains in epochs."""
    settings = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    for section in ("pipeline", "policies"):
        for component in settings.get(section) or []:
            if "epochs" in component or component.get("name") in EPOCH_COMPONENTS:
                component["epochs"] = epochs
    copy = folder / f"config-epochs-{epochs}.yml"
    copy.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return copy


def load_training_data(data: Path, domain: Path) -> Any:
    """The NLU training data (examples, responses, regexes, lookups, synonyms) of a data folder."""
    from rasa.shared.importers.importer import TrainingDataImporter

    importer = TrainingDataImporter.load_from_dict(training_data_paths=[str(data)], domain_path=str(domain))
    return importer.get_nlu_data()


def _subset(data: Any, examples: Sequence[Any]) -> Any:
    from rasa.shared.nlu.training_data.training_data import TrainingData

    return TrainingData(
        training_examples=list(examples),
        entity_synonyms=data.entity_synonyms,
        regex_features=data.regex_features,
        lookup_tables=data.lookup_tables,
        responses=data.responses,
    )


def drop_rare_labels(data: Any, folds: int) -> Tuple[Any, List[str]]:
    """Without labels that have fewer examples than folds (as Rasa's cross-validation does)."""
    counts: Dict[str, int] = {}
    for example in data.intent_examples:
        counts[example.get_full_intent()] = counts.get(example.get_full_intent(), 0) + 1
    rare = sorted(label for label, count in counts.items() if count < folds)
    kept = [e for e in data.intent_examples if e.get_full_intent() not in rare]
    return _subset(data, kept), rare


def make_folds(data: Any, folds: int, seed: int) -> Iterator[Tuple[Any, Any]]:
    """(train, test) TrainingData per fold, stratified by full label (`faq/<key>` included)."""
    from sklearn.model_selection import StratifiedKFold

    examples = data.intent_examples
    labels = [example.get_full_intent() for example in examples]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_index, test_index in splitter.split(examples, labels):
        yield (_subset(data, [examples[i] for i in train_index]), _subset(data, [examples[i] for i in test_index]))


def predict_rows(model: str, test_file: str) -> List[Row]:
    """evaluate_nlu's per-utterance rows for every example of `test_file`."""
    rows, _seconds = asyncio.run(predict(model, test_file))
    return rows


def run_fold(config: Path, train: Any, test: Any, folder: Path) -> List[Row]:
    """Train on `train`, return the rows of `test`."""
    import rasa.model_training
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter

    train_file, test_file = folder / "train.yml", folder / "test.yml"
    RasaYAMLWriter().dump(train_file, train)
    RasaYAMLWriter().dump(test_file, test)
    model = rasa.model_training.train_nlu(str(config), str(train_file), str(folder), fixed_model_name="fold")
    if not model:
        raise RuntimeError(f"training the cross-validation model failed (config {config})")
    return predict_rows(model, str(test_file))


def cross_validate(
    config: Path, data: Path, domain: Path, folds: int, seed: int, log: Log = say
) -> Tuple[List[Row], List[str]]:
    """Rows of every utterance, each predicted by the model that did not see it (with its
    `fold`), and the labels left out for having fewer examples than folds."""
    training, dropped = drop_rare_labels(load_training_data(data, domain), folds)
    rows: List[Row] = []
    for number, (train, test) in enumerate(make_folds(training, folds, seed), start=1):
        log(
            f"Cross-validation fold {number}/{folds}: training on {len(train.intent_examples)} "
            f"utterances, testing {len(test.intent_examples)}"
        )
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="nlu-report-fold-") as folder:
            fold_rows = run_fold(config, train, test, Path(folder))
        rows += [dict(row, fold=number) for row in fold_rows]
        log(f"  fold {number} done in {time.perf_counter() - started:.0f} s")
    return rows, dropped


def test_set_kind(path: Path) -> str:
    """`paraphrase` for tests/nlu/paraphrase*.yml, else `heldout`."""
    return "paraphrase" if path.name.startswith("paraphrase") else "heldout"


def heldout_language(path: Path) -> str:
    """`heldout_zh.yml` is zh; a file without a language suffix is en."""
    match = _LANGUAGE_SUFFIX.search(path.name)
    return match.group(1) if match else "en"


async def _predict_files(model: str, paths: Sequence[Path], log: Log) -> List[List[Row]]:
    agent = load_agent(model)
    found = []
    for path in paths:
        log(f"Test set {path} against {model}")
        rows, seconds = await predict_with_agent(agent, str(path))
        log(f"  {len(rows)} utterances parsed in {seconds:.0f} s")
        found.append(rows)
    return found


def run_heldout(model: str, paths: Sequence[Path], log: Log = say) -> List[Dict[str, Any]]:
    """One entry per held-out or paraphrase file (the model is loaded once): its path, language,
    kind of set (`heldout` or `paraphrase`) and rows."""
    if not paths:
        return []
    found = asyncio.run(_predict_files(model, paths, log))
    return [
        {"path": str(path), "language": heldout_language(path), "set": test_set_kind(path), "rows": rows}
        for path, rows in zip(paths, found)
    ]
