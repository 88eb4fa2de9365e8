"""tools/turn_profile.py: each wrapper adds its time to the current turn's part; a turn is one JSON line."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tools import turn_profile


def test_parts_add_up_inside_a_turn_and_nothing_is_recorded_outside(tmp_path: Path) -> None:
    def slow(ms: float) -> float:
        time.sleep(ms / 1000)
        return ms

    timed = turn_profile.timed_sync(slow, lambda ms: "part")

    async def inner(ms: float) -> float:
        return timed(ms) + timed(ms)

    async def handle(agent: Any, message: Any) -> str:
        await inner(5)
        return "answer"

    path = tmp_path / "turns.jsonl"
    turn = turn_profile.turn_wrapper(handle, path)
    assert timed(1) == 1  # outside a turn: runs, records nothing
    assert asyncio.run(turn(None, SimpleNamespace(sender_id="rest:u1"))) == "answer"
    (line,) = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["sender"] == "rest:u1" and record["counts"] == {"part": 2}
    assert 10 <= record["parts"]["part"] <= record["parts"]["turn"]


def test_a_section_names_the_parts_inside_it(tmp_path: Path) -> None:
    node = SimpleNamespace(_node_name="run_RulePolicy1")
    call = turn_profile.timed_sync(lambda self: None, turn_profile._node_part)
    predict = turn_profile.timed_sync(lambda: call(node), lambda: "policies", section="policies")

    async def handle(agent: Any, message: Any) -> None:
        predict()
        call(node)

    path = tmp_path / "turns.jsonl"
    asyncio.run(turn_profile.turn_wrapper(handle, path)(None, SimpleNamespace(sender_id="s")))
    parts = json.loads(path.read_text(encoding="utf-8"))["parts"]
    assert set(parts) == {"policies", "policies.run_RulePolicy1", "graph.run_RulePolicy1", "turn"}
