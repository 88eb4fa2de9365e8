"""Latency and throughput (tools/bench/measure.py): percentiles, senders, and both load phases
against a fake REST webhook on 127.0.0.1. No timing is asserted."""

from __future__ import annotations

from typing import Any, Iterator, Tuple

import pytest

from tests.fake_http import Record, RecordingServer
from tools.bench import measure


@pytest.mark.parametrize(
    "values, q, expected",
    [
        ([5.0], 50, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([3.0, 1.0, 2.0], 0, 1.0),
        ([3.0, 1.0, 2.0], 100, 3.0),
        (list(range(1, 101)), 95, 95.05),
        (list(range(1, 101)), 99, 99.01),
    ],
)
def test_percentile_interpolates_between_ranks(values, q, expected):
    assert measure.percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_none():
    assert measure.percentile([], 50) is None
    assert measure.latency_summary([]) == {
        "p50_ms": None,
        "p95_ms": None,
        "p99_ms": None,
        "mean_ms": None,
        "max_ms": None,
    }


def test_latency_summary():
    summary = measure.latency_summary([10.0, 20.0, 30.0, 40.0])
    assert summary == {"p50_ms": 25.0, "p95_ms": 38.5, "p99_ms": 39.7, "mean_ms": 25.0, "max_ms": 40.0}


def test_sender_changes_every_ten_messages():
    senders = [measure.sender_id("p", i) for i in range(25)]
    assert len(set(senders[:10])) == 1 and len(set(senders)) == 3
    assert senders[0] == "p-0" and senders[24] == "p-2"


def echo_unless_silent(record: Record) -> Tuple[int, Any]:
    """A REST webhook: one answer per message, none for "silent"."""
    message = record["json"]["message"]
    return 200, [] if message == "silent" else [{"recipient_id": record["json"]["sender"], "text": message}]


@pytest.fixture
def webhook() -> Iterator[RecordingServer]:
    server = RecordingServer(echo_unless_silent)
    yield server
    server.close()


def test_sequential_counts_answers_errors_and_empty_answers(webhook):
    webhook.statuses += [200, 500]  # the second message fails
    figures = measure.sequential(webhook.url + "/webhooks/rest/webhook", ["a", "b", "silent", "d"], "seq")
    assert (figures["messages"], figures["answered"], figures["errors"], figures["empty_answers"]) == (4, 3, 1, 1)
    assert figures["p50_ms"] > 0 and figures["max_ms"] >= figures["p50_ms"]
    sent = webhook.snapshot()
    assert [r["json"]["message"] for r in sent] == ["a", "b", "silent", "d"]
    assert {r["json"]["sender"] for r in sent} == {"seq-0"}


def test_sequential_against_nothing_counts_errors_only():
    figures = measure.sequential("http://127.0.0.1:9/webhook", ["a", "b"], "none")
    assert (figures["answered"], figures["errors"], figures["p95_ms"]) == (0, 2, None)


def test_concurrency_runs_every_user_until_the_deadline(webhook):
    figures = measure.concurrency(webhook.url + "/webhooks/rest/webhook", ["a", "silent", "c", "d"], 2, 0.5, "load")
    sent = webhook.snapshot()
    assert figures["users"] == 2 and figures["duration_s"] >= 0.5
    assert figures["answered"] == len(sent) > 2 and figures["errors"] == 0
    assert figures["error_kinds"] == {"status": 0, "timeout": 0, "connection": 0}
    assert figures["empty_answers"] == sum(r["json"]["message"] == "silent" for r in sent)
    assert figures["throughput_msg_s"] > 0
    assert {r["json"]["sender"].rsplit("-", 1)[0] for r in sent} == {"load-u0", "load-u1"}


def test_concurrency_sorts_errors_by_kind():
    unavailable = RecordingServer(lambda record: (503, {"error": "busy"}))
    try:
        figures = measure.concurrency(unavailable.url + "/webhooks/rest/webhook", ["a"], 1, 0.3, "err")
    finally:
        unavailable.close()
    assert figures["answered"] == 0 and figures["errors"] == figures["error_kinds"]["status"] > 0
    refused = measure.concurrency("http://127.0.0.1:9/webhook", ["a"], 1, 0.2, "off")
    assert refused["errors"] == refused["error_kinds"]["connection"] > 0
