"""tools/bench/action_call.py: the same action call in-process (rasa_sdk's executor) and its request."""

from __future__ import annotations

import asyncio

from rasa_sdk.executor import ActionExecutor

from tools.bench.action_call import in_process, resume_call


def test_the_request_is_a_guide_waiting_for_its_next_step_and_the_action_answers_it() -> None:
    executor = ActionExecutor()
    executor.register_package("actions")
    answer = asyncio.run(executor.run(resume_call()))
    assert answer is not None
    texts = " ".join(r.get("text") or "" for r in answer["responses"])
    assert "Step 2" in texts  # step_index 1: the second step of the Forgotten Password guide


def test_in_process_gives_a_median_in_milliseconds() -> None:
    assert 0 < in_process(resume_call(), calls=5) < 1000
