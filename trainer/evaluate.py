"""Evaluate the trained NLU on a test set (held-out or paraphrase) and enforce the thresholds.

Intent accuracy: share of in-scope held-out utterances whose intent (for FAQs,
the full `faq/<key>`) is predicted exactly; a fallback counts as a miss.
Out-of-scope recall: share of out-of-scope utterances predicted `out_of_scope`
or `nlu_fallback`. Entities are reported (precision/recall per entity type).
Writes a JSON report; exits 1 when a figure is below its threshold.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"


def predicted_intent(parse: Dict[str, Any]) -> str:
    """The full predicted intent, `faq/<key>` for retrieval intents."""
    name = (parse.get("intent") or {}).get("name") or "None"
    selector = (parse.get("response_selector") or {}).get(name)
    if selector:
        return (selector.get("response") or {}).get("intent_response_key") or name
    return name


# Tags the pipeline adds to every message, not annotations to score.
NOT_SCORED_ENTITIES = {"message_language", "chat"}


def entity_set(entities: List[Dict[str, Any]]) -> set:
    return {(e["entity"], str(e.get("value"))) for e in entities if e["entity"] not in NOT_SCORED_ENTITIES}


def is_correct(row: Dict[str, Any]) -> bool:
    """An out-of-scope utterance is handled when declined (`out_of_scope` or a fallback);
    any other utterance when its exact intent is predicted."""
    if row["expected"] == OUT_OF_SCOPE:
        return row["predicted"] in (OUT_OF_SCOPE, FALLBACK)
    return row["predicted"] == row["expected"]


def score(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    in_scope = [r for r in rows if r["expected"] != OUT_OF_SCOPE]
    oos = [r for r in rows if r["expected"] == OUT_OF_SCOPE]
    correct = sum(is_correct(r) for r in in_scope)
    oos_caught = sum(is_correct(r) for r in oos)
    per_intent: Dict[str, Dict[str, int]] = collections.defaultdict(lambda: {"total": 0, "correct": 0})
    for r in rows:
        per_intent[r["expected"]]["total"] += 1
        per_intent[r["expected"]]["correct"] += int(is_correct(r))
    ent_tp: Dict[str, int] = collections.Counter()
    ent_fp: Dict[str, int] = collections.Counter()
    ent_fn: Dict[str, int] = collections.Counter()
    for r in rows:
        expected, found = set(map(tuple, r["expected_entities"])), set(map(tuple, r["entities"]))
        for e in expected & found:
            ent_tp[e[0]] += 1
        for e in found - expected:
            ent_fp[e[0]] += 1
        for e in expected - found:
            ent_fn[e[0]] += 1
    entities = {
        name: {
            "precision": round(ent_tp[name] / max(1, ent_tp[name] + ent_fp[name]), 4),
            "recall": round(ent_tp[name] / max(1, ent_tp[name] + ent_fn[name]), 4),
            "support": ent_tp[name] + ent_fn[name],
        }
        for name in sorted(set(ent_tp) | set(ent_fp) | set(ent_fn))
    }
    return {
        "intent_accuracy": round(correct / max(1, len(in_scope)), 4),
        "in_scope_utterances": len(in_scope),
        "oos_recall": round(oos_caught / max(1, len(oos)), 4),
        "oos_utterances": len(oos),
        "per_intent": {k: dict(v) for k, v in sorted(per_intent.items())},
        "entities": entities,
        "errors": [r for r in rows if not is_correct(r)],
    }


def load_agent(model: str) -> Any:
    """The trained model as a Rasa Agent, with Rasa's logging quietened to warnings."""
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    logging.getLogger("rasa").setLevel(logging.WARNING)
    return Agent.load(model)


async def predict(model: str, test_data: str) -> Tuple[List[Dict[str, Any]], float]:
    """Load `model` and predict every example of `test_data` (see `predict_with_agent`)."""
    return await predict_with_agent(load_agent(model), test_data)


async def predict_with_agent(agent: Any, test_data: str) -> Tuple[List[Dict[str, Any]], float]:
    """One row per test example (text, expected and predicted label, confidence, entities)
    and the seconds the parsing took."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(test_data)
    rows = []
    started = time.perf_counter()
    for example in data.intent_examples:
        text = example.get("text")
        parse = await agent.parse_message(text)
        rows.append(
            {
                "text": text,
                "expected": example.get("intent_response_key") or example.get("intent"),
                "predicted": predicted_intent(parse),
                "confidence": round(float((parse.get("intent") or {}).get("confidence") or 0.0), 4),
                "expected_entities": sorted(entity_set(example.get("entities") or [])),
                "entities": sorted(entity_set(parse.get("entities") or [])),
            }
        )
    return rows, time.perf_counter() - started


def report_one(agent: Any, test_data: str, model: str, out: Path, min_accuracy: float, min_oos_recall: float) -> bool:
    """Score `test_data`, write `<out>/<stem>.json`, print the misses and figures; True when it passes."""
    rows, seconds = asyncio.run(predict_with_agent(agent, test_data))
    report = score(rows)
    report.update({"model": model, "test_data": test_data, "utterances": len(rows), "parse_seconds": round(seconds, 2)})
    out.mkdir(parents=True, exist_ok=True)
    # One report per test file: heldout.json, heldout_zh.json, paraphrase.json ...
    report_path = out / f"{Path(test_data).stem}.json"
    report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")

    for error in report["errors"]:
        print(
            f"  MISS {error['expected']:>32} -> {error['predicted']:<32} {error['confidence']:.2f}  {error['text']!r}"
        )
    for name, figures in report["entities"].items():
        print(
            f"  entity {name}: precision {figures['precision']:.3f} recall {figures['recall']:.3f} "
            f"(support {figures['support']})"
        )
    print(f"NLU test set ({test_data}, {len(rows)} utterances):")
    print(
        f"  intent accuracy     {report['intent_accuracy']:.4f}  (threshold {min_accuracy}, "
        f"{report['in_scope_utterances']} in-scope utterances)"
    )
    print(
        f"  out-of-scope recall {report['oos_recall']:.4f}  (threshold {min_oos_recall}, "
        f"{report['oos_utterances']} out-of-scope utterances)"
    )
    print(f"  report: {report_path}")
    failed = report["intent_accuracy"] < min_accuracy or report["oos_recall"] < min_oos_recall
    if failed:
        print(f"FAILED: NLU figures on {test_data} are below the thresholds", file=sys.stderr)
    return not failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument(
        "--test-data",
        action="append",
        help="a test set (repeat for several; the model loads once): default tests/nlu/heldout.yml",
    )
    parser.add_argument("--min-accuracy", type=float, default=0.95)
    parser.add_argument("--min-oos-recall", type=float, default=0.85)
    parser.add_argument("--out", default="results/nlu")
    args = parser.parse_args()

    agent = load_agent(args.model)
    passed = [
        report_one(agent, test_data, args.model, Path(args.out), args.min_accuracy, args.min_oos_recall)
        for test_data in args.test_data or ["tests/nlu/heldout.yml"]
    ]
    return 0 if all(passed) else 1


if __name__ == "__main__":
    sys.exit(main())
