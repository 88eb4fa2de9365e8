"""tools/bench/profile.py: the table of a turn's parts from the recorded lines."""

from __future__ import annotations

from typing import Any, Dict, List

from tools.bench import profile


def turn(sender: str, turn_ms: float, read_ms: float, calls: int = 0) -> Dict[str, Any]:
    parts = {"turn": turn_ms, "tracker.read": read_ms, "action.action_x": 2.0, "nlu.run_A": 1.0}
    return {"sender": sender, "parts": parts, "counts": {"remote.http": calls}}


def test_action_server_calls_are_matched_to_their_turns_in_order() -> None:
    turns = [turn("rest:s", 10, 1, calls=1), turn("rest:s", 10, 1, calls=0), turn("rest:s", 10, 1, calls=2)]
    calls = [{"sender": "rest:s", "parts": {"handler": h, "action": h / 2}} for h in (1.0, 2.0, 3.0)]
    profile.turns_with_server_parts(turns, calls)
    assert [t["parts"].get("server.handler", 0.0) for t in turns] == [1.0, 0.0, 5.0]


def test_the_table_shows_each_window_and_the_growth() -> None:
    short: List[Dict[str, Any]] = [turn("a", 10, 1) for _ in range(3)]
    long_: List[Dict[str, Any]] = [turn("b", 20, 8) for _ in range(3)]
    columns = {"first": profile.summarise(short, [12, 12, 12]), "last": profile.summarise(long_, [24, 24, 24])}
    assert columns["last"]["tracker.read"] == 8 and columns["last"]["actions"] == 2.0
    assert columns["first"]["channel"] == 2.0
    text = profile.table(columns)
    assert "tracker store read" in text and "8.00x" in text  # 8 ms / 1 ms
    assert "nlu.run_A" in text
