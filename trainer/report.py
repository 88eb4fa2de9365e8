"""The trainers' NLU report: cross-validation and held-out figures in one page.

    python -m trainer.report --model models/<hash>.tar.gz --heldout tests/nlu/heldout.yml \\
        --heldout tests/nlu/heldout_zh.yml [--folds 5] [--epochs N] [--out reports/nlu]
    python -m trainer.report --from-results reports/nlu      # re-render, no training

Runs a k-fold cross-validation of the NLU on the training data and scores each
held-out file against the trained model (`trainer.report_run`), saves every
per-utterance result in `<out>/results.json`, appends the headline figures to
`<out>/history.csv` and writes `<out>/index.md`, `<out>/index.html` and
`<out>/confusion_matrix.png`. `make report` runs it; TRAINING.md explains the page.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from trainer.model_hash import model_hash
from trainer.report_figures import confusion_matrix, headline
from trainer.report_history import append_history, history_row, read_history
from trainer.report_page import render_html, render_markdown, write_confusion_png

ROOT = Path(__file__).resolve().parent.parent
RESULTS_FILE = "results.json"
PNG_FILE = "confusion_matrix.png"
HEADLINE_LABELS = [
    ("cv_accuracy", "CV intent accuracy"),
    ("cv_macro_f1", "CV macro F1"),
    ("cv_accuracy_en", "CV intent accuracy, en"),
    ("cv_accuracy_zh", "CV intent accuracy, zh"),
    ("heldout_accuracy_en", "held-out intent accuracy, en"),
    ("heldout_oos_recall_en", "held-out OOS recall, en"),
    ("heldout_accuracy_zh", "held-out intent accuracy, zh"),
    ("heldout_oos_recall_zh", "held-out OOS recall, zh"),
    ("paraphrase_accuracy_en", "paraphrase intent accuracy, en"),
    ("paraphrase_oos_recall_en", "paraphrase OOS recall, en"),
    ("paraphrase_accuracy_zh", "paraphrase intent accuracy, zh"),
    ("paraphrase_oos_recall_zh", "paraphrase OOS recall, zh"),
]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m trainer.report", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yml"), help="NLU config (default config.yml)")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("data"),
        help="training data folder; its NLU examples are cross-validated (default data)",
    )
    parser.add_argument("--domain", type=Path, default=Path("domain.yml"))
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    parser.add_argument(
        "--epochs", type=int, default=None, help="quick run: train the folds with every component's epochs set to N"
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the fold split (default 42)")
    parser.add_argument(
        "--model",
        default=None,
        help="trained model for the held-out sets (default the Makefile's models/<hash>.tar.gz)",
    )
    parser.add_argument(
        "--heldout",
        type=Path,
        action="append",
        default=None,
        help="held-out or paraphrase file, repeatable; <name>_<lang>.yml is <lang>, else en; "
        "paraphrase*.yml count as paraphrase sets (default: tests/nlu/heldout*.yml and "
        "tests/nlu/paraphrase*.yml where present)",
    )
    parser.add_argument("--out", type=Path, default=Path("reports/nlu"), help="report folder (default reports/nlu)")
    parser.add_argument(
        "--from-results",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"re-render from DIR/{RESULTS_FILE} of an earlier run instead of measuring",
    )
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def default_heldout() -> List[Path]:
    """The held-out and paraphrase files that exist, English first."""
    names = ("heldout.yml", "heldout_zh.yml", "paraphrase.yml", "paraphrase_zh.yml")
    return [path for path in (Path("tests/nlu") / name for name in names) if path.exists()]


def hash_files(paths: Sequence[Path]) -> str:
    """A short hash of the files' names and contents (folders: every file inside)."""
    digest = hashlib.sha256()
    files: List[Path] = []
    for path in paths:
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for path in files:
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def git_commit() -> str:
    """The checked-out commit, `-dirty` when tracked files changed; `unknown` outside git."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
        )
        return done.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_meta(args: argparse.Namespace, model: str, heldout: Sequence[Path]) -> Dict[str, Any]:
    """What a run measured and with what: the page header and the history row."""
    return {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "commit": git_commit(),
        "data_hash": hash_files([args.data] + list(heldout)),
        "data": str(args.data),
        "config": str(args.config),
        "config_hash": hash_files([args.config]),
        "folds": args.folds,
        "epochs": args.epochs,
        "seed": args.seed,
        "model": model,
        "heldout_files": [str(path) for path in heldout],
    }


def measure(args: argparse.Namespace) -> Dict[str, Any]:
    """Run the held-out sets and the cross-validation; the results to save and render."""
    from trainer.report_run import config_with_epochs, cross_validate, prepare_environment, run_heldout

    for path in [args.config, args.data, args.domain] + list(args.heldout or []):
        if not path.exists():
            raise SystemExit(f"{path} does not exist (run from the project folder, or pass the right path).")
    model = args.model or f"models/{model_hash(ROOT)}.tar.gz"
    if not Path(model).exists():
        raise SystemExit(f"No trained model at {model}: run `make train` first (or pass --model).")
    prepare_environment()
    heldout = args.heldout if args.heldout is not None else default_heldout()
    meta = run_meta(args, model, heldout)
    started = time.perf_counter()
    heldout_results = run_heldout(model, heldout)
    meta["heldout_seconds"] = round(time.perf_counter() - started)
    with tempfile.TemporaryDirectory(prefix="nlu-report-") as folder:
        config = config_with_epochs(args.config, args.epochs, Path(folder)) if args.epochs else args.config
        started = time.perf_counter()
        cv_rows, dropped = cross_validate(config, args.data, args.domain, args.folds, args.seed)
    meta["cv_seconds"] = round(time.perf_counter() - started)
    meta["dropped_labels"] = dropped
    return {"meta": meta, "cv": cv_rows, "heldout": heldout_results}


def results_path(location: Path) -> Path:
    """`DIR/results.json` for a folder, the file itself otherwise."""
    return location / RESULTS_FILE if location.is_dir() else location


def save_results(results: Dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / RESULTS_FILE
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def load_results(location: Path) -> Dict[str, Any]:
    path = results_path(location)
    if not path.exists():
        raise SystemExit(f"No saved results at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def write_report(results: Dict[str, Any], out: Path) -> Dict[str, Optional[float]]:
    """Append the run to the history and write the page and picture; the headline figures."""
    figures = headline(results["cv"], results["heldout"])
    append_history(out / "history.csv", history_row(results["meta"], figures))
    write_confusion_png(confusion_matrix(results["cv"]), out / PNG_FILE)
    page = render_markdown(results, read_history(out / "history.csv"), PNG_FILE)
    (out / "index.md").write_text(page, encoding="utf-8")
    (out / "index.html").write_text(render_html(page), encoding="utf-8")
    return figures


def print_headline(figures: Dict[str, Optional[float]], out: Path) -> None:
    print("NLU report:")
    for key, label in HEADLINE_LABELS:
        value = figures.get(key)
        print(f"  {label:<30} {'—' if value is None else f'{value:.4f}'}")
    print(f"  report: {out / 'index.md'} (and index.html, history.csv)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.from_results:
        results = load_results(args.from_results)
        if results_path(args.from_results).resolve() != (args.out / RESULTS_FILE).resolve():
            save_results(results, args.out)
    else:
        results = measure(args)
        save_results(results, args.out)
    print_headline(write_report(results, args.out), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
