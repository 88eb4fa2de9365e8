"""NLU against its floor: our model's in-process parse time beside a plain scikit-learn pipeline's.

    .venv/bin/python -m tools.bench.nlu_floor --model models/X.tar.gz [--messages 260]

The floor is character (2-4, within words) and word tf-idf, then logistic regression, trained on
the same training data (data/nlu). Both classify the same messages one at a time (the benchmark's
held-out list, tools/bench/messages.py) after a warm-up; prints JSON with the median and p95 of each
and the ratio ours / floor. `make bench` runs it in its own process (issue 15 asks for ≤ 2×).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from tools.bench import ROOT
from tools.bench.measure import percentile
from tools.bench.messages import load_messages

WARMUP = 10


def floor_pipeline(texts: Sequence[str], labels: Sequence[str]) -> Any:
    """The plain pipeline: char_wb 2-4 and word tf-idf, logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)), TfidfVectorizer())
    return make_pipeline(features, LogisticRegression(max_iter=300)).fit(list(texts), list(labels))


def timed_each(classify: Callable[[str], Any], messages: Sequence[str]) -> Dict[str, Optional[float]]:
    """Median and p95 (ms) of `classify` over the messages, one at a time, after a warm-up."""
    for message in messages[:WARMUP]:
        classify(message)
    times: List[float] = []
    for message in messages:
        start = time.perf_counter()
        classify(message)
        times.append((time.perf_counter() - start) * 1000.0)
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(percentile(times, 95) or 0.0, 2)}


def measure(model: str, count: int) -> Dict[str, Any]:
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data

    from tools import rasa_patches

    rasa_patches.apply()
    training = load_data(str(ROOT / "data" / "nlu"))
    examples = [m for m in training.intent_examples if m.get("text")]
    floor = floor_pipeline([m.get("text") for m in examples], [m.get("intent") for m in examples])
    messages, _ = load_messages(count)
    agent = Agent.load(model)
    loop = asyncio.new_event_loop()
    try:
        ours = timed_each(lambda text: loop.run_until_complete(agent.parse_message(text)), messages)
    finally:
        loop.close()
    plain = timed_each(lambda text: floor.predict([text]), messages)
    ratio = round(ours["p50_ms"] / plain["p50_ms"], 2) if ours["p50_ms"] and plain["p50_ms"] else None
    return {"messages": len(messages), "ours": ours, "floor": plain, "p50_ratio": ratio, "target_ratio": 2.0}


def nlu_floor(bench: Any, model: Path) -> Dict[str, Any]:
    """This module in its own process (the benchmark's stays light); its JSON, or the error."""
    command = [str(bench.python), "-m", "tools.bench.nlu_floor", "--model", str(model)]
    command += ["--messages", str(min(len(bench.messages), 260))]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900, env=bench.base_env())
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    except (subprocess.SubprocessError, ValueError, IndexError, OSError) as error:
        return {"error": f"{type(error).__name__}: {error}"}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.nlu_floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--messages", type=int, default=260)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.model, args.messages)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
