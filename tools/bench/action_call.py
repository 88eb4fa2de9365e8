"""One custom-action call two ways, on the same request: over HTTP to the running action server (what
Rasa does) and in this process through rasa_sdk's own ActionExecutor (what running the actions inside
the Rasa process would cost). README, "Where a turn's time goes": the second option was measured, not
chosen."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any, Dict, List

import requests

CALLS = 200


def resume_call() -> Dict[str, Any]:
    """`action_resume_guide` mid-guide, as Rasa sends it (tracker state, this turn's events, no domain)."""
    slots = {
        "problem": "forgot_password",
        "guide_stage": "steps",
        "step_index": 1.0,
        "guide_active": True,
        "language": "en",
        "chat": "direct",
    }
    latest = {
        "text": "how long is the sms code valid",
        "intent": {"name": "faq", "confidence": 0.9},
        "entities": [],
        "intent_ranking": [],
    }
    return {
        "next_action": "action_resume_guide",
        "sender_id": "bench",
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": "bench",
            "slots": slots,
            "latest_message": latest,
            "latest_event_time": time.time(),
            "followup_action": None,
            "paused": False,
            "events": [{"event": "user", "text": latest["text"], "parse_data": latest, "timestamp": time.time()}],
            "latest_input_channel": "rest",
            "active_loop": {},
            "latest_action": {"action_name": "utter_faq"},
            "latest_action_name": "utter_faq",
        },
    }


def _p50_ms(samples: List[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def over_http(url: str, body: Dict[str, Any], calls: int = CALLS) -> float:
    """p50 in ms of POSTing `body` to the action server's webhook (one kept-alive connection)."""
    samples = []
    with requests.Session() as session:
        for _ in range(calls):
            started = time.perf_counter()
            answer = session.post(url, json=body, timeout=10)
            samples.append(time.perf_counter() - started)
            answer.raise_for_status()
    return _p50_ms(samples)


def in_process(body: Dict[str, Any], calls: int = CALLS) -> float:
    """p50 in ms of running the same call with rasa_sdk's ActionExecutor in this process."""
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")

    async def run() -> List[float]:
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            answer = await executor.run(body)
            samples.append(time.perf_counter() - started)
            if not answer or not answer.get("responses"):
                raise RuntimeError("the in-process action gave no answer")
        return samples

    return _p50_ms(asyncio.run(run()))


def action_call_costs(action_port: int) -> Dict[str, float]:
    """Both ways, on `action_resume_guide` mid-guide (it answers with the guide's current step)."""
    body = resume_call()
    return {
        "http_p50_ms": over_http(f"http://127.0.0.1:{action_port}/webhook", body),
        "in_process_p50_ms": in_process(body),
    }
