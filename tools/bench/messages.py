"""The messages both bots get: the held-out NLU sets, markup stripped, in a seeded order."""

from __future__ import annotations

import hashlib
import random
from typing import Any, Dict, List, Tuple

import yaml

from tools.bench import ROOT

HELDOUT = {"en": ROOT / "tests/nlu/heldout.yml", "zh": ROOT / "tests/nlu/heldout_zh.yml"}
SEED = 20261127


def strip_markup(text: str) -> str:
    """`[text](entity)` and `[text]{"entity": ...}` annotations reduced to their text
    (the trainers' data check's rule, so both read examples the same way)."""
    from trainer.project import plain_text

    return plain_text(text)


def nlu_examples(document: Dict[str, Any]) -> List[str]:
    """The intent examples of a Rasa NLU YAML document, markup stripped."""
    texts: List[str] = []
    for item in document.get("nlu") or []:
        if "intent" not in item:
            continue
        examples = item.get("examples") or ""
        if isinstance(examples, str):
            lines = [line.strip()[1:].strip() for line in examples.splitlines() if line.strip().startswith("-")]
        else:
            lines = [str(e.get("text", "")) if isinstance(e, dict) else str(e) for e in examples]
        texts += [strip_markup(line) for line in lines if line]
    return texts


def message_plan(pools: Dict[str, List[str]], count: int, seed: int = SEED) -> List[Tuple[str, str]]:
    """`count` (language, text) pairs from all pools, in a seeded order (cycled when short)."""
    pooled = [(lang, text) for lang in sorted(pools) for text in pools[lang]]
    if not pooled:
        raise ValueError("no messages in the held-out sets")
    random.Random(seed).shuffle(pooled)
    return [pooled[i % len(pooled)] for i in range(count)]


def load_messages(count: int) -> Tuple[List[str], Dict[str, Any]]:
    """The message list both bots get, and how it was made."""
    pools = {
        lang: nlu_examples(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        for lang, path in HELDOUT.items()
        if path.exists()
    }
    plan = message_plan(pools, count)
    texts = [text for _, text in plan]
    info = {
        "count": len(plan),
        "seed": SEED,
        "per_language": {lang: sum(1 for plan_lang, _ in plan if plan_lang == lang) for lang in pools},
        "sources": [str(path.relative_to(ROOT)) for path in HELDOUT.values() if path.exists()],
        "sha256": hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16],
    }
    return texts, info
