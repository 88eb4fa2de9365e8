"""The starter bot: `rasa init --no-prompt` in the temporary folder, then a cold `rasa train`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Tuple

from tools.bench.bots import Bench, BenchError, Bot, progress, run_timed


def newest_model(folder: Path) -> Path:
    """The most recently written model in `folder`."""
    models = sorted(folder.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise BenchError(f"no model in {folder}")
    return models[-1]


def prepare_starter(bench: Bench) -> Tuple[Dict[str, Any], Bot]:
    """`rasa init --no-prompt` into the temp folder (it trains a model itself), then a cold
    `rasa train` of that project, timed on its own (skipped with --skip-train: init's model).

    The starter is initialised, trained and served through `python -m tools.serve` like ours,
    so both bots run on the same Rasa with the same patches."""
    project = bench.work / "starter"
    project.mkdir()
    env = bench.base_env()
    progress("starter: rasa init --no-prompt (it trains a first model itself)")
    init_s = run_timed(
        bench.procs,
        bench.rasa("init", "--no-prompt", "--init-dir", str(project)),
        bench.work,
        dict(env, RASA_CACHE_DIRECTORY=str(bench.work / "starter-init-cache")),
        bench.work / "starter-init.log",
    )
    figures: Dict[str, Any] = {"init_s": init_s, "training_s": None, "training_skipped": bench.args.skip_train}
    model = newest_model(project / "models")
    if not bench.args.skip_train:
        figures["training_s"], model = bench.train("starter", project, env)
    figures["model"] = model.name
    bot = Bot("starter", project, model, project / "credentials.yml", project / "endpoints.yml", env)
    return figures, bot
