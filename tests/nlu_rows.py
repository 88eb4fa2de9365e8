"""Hand-made NLU result rows for the report tests (trainer/report*.py)."""

from __future__ import annotations

from typing import Any, Dict, List


def row(text: str, expected: str, predicted: str, confidence: float = 0.9) -> Dict[str, Any]:
    """One prediction as trainer.evaluate writes it."""
    return {
        "text": text,
        "expected": expected,
        "predicted": predicted,
        "confidence": confidence,
        "expected_entities": [],
        "entities": [],
    }


def results_of(cv_rows: List[Dict[str, Any]], heldout: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The saved results of a report run: its metadata and the rows."""
    meta = {
        "date": "2026-11-27 12:00",
        "commit": "abc1234",
        "data_hash": "0123456789ab",
        "data": "data",
        "config": "config.yml",
        "config_hash": "ffffffffffff",
        "folds": 5,
        "epochs": None,
        "seed": 42,
        "model": "models/x.tar.gz",
        "heldout_files": ["tests/nlu/heldout.yml"],
        "cv_seconds": 1,
    }
    return {"meta": meta, "cv": cv_rows, "heldout": heldout}
