"""The benchmark's pure functions (tools/bench.py): percentiles, markup stripping, the message
list, the ratio table and resident memory read from /proc. No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tools import bench
from trainer.project import ANNOTATION


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
    assert bench.percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_none():
    assert bench.percentile([], 50) is None
    assert bench.latency_summary([])["p95_ms"] is None


def test_latency_summary():
    summary = bench.latency_summary([10.0, 20.0, 30.0, 40.0])
    assert summary == {"p50_ms": 25.0, "p95_ms": 38.5, "p99_ms": 39.7, "mean_ms": 25.0, "max_ms": 40.0}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("my mail bounced with [ESO_LOCAL_SPAM](error_code)", "my mail bounced with ESO_LOCAL_SPAM"),
        ('[eso local spam]{"entity": "error_code", "value": "ESO_LOCAL_SPAM"} again', "eso local spam again"),
        ('[admin](role:postmaster) and [x](a) [y]{"entity": "b"}', "admin and x y"),
        ("550 5.7.1 [ESO_LOCAL_SPAM](error_code): spamed", "550 5.7.1 ESO_LOCAL_SPAM: spamed"),
        ("退信 [ESO_LOCAL_SPAM](error_code) 怎么办", "退信 ESO_LOCAL_SPAM 怎么办"),
        ("no markup [just brackets] here", "no markup [just brackets] here"),
    ],
)
def test_strip_markup(text, expected):
    assert bench.strip_markup(text) == expected


def test_nlu_examples_reads_intents_only():
    document = {
        "nlu": [
            {"intent": "greet", "examples": "- hi\n- [hello](x) there\n\n"},
            {"lookup": "role", "examples": "- admin\n"},
            {"intent": "bye", "examples": [{"text": "bye"}, "ciao"]},
        ]
    }
    assert bench.nlu_examples(document) == ["hi", "hello there", "bye", "ciao"]


def test_message_plan_is_seeded_and_shared():
    pools = {"en": [f"en {i}" for i in range(10)], "zh": [f"zh {i}" for i in range(5)]}
    first, second = bench.message_plan(pools, 30), bench.message_plan(pools, 30)
    assert first == second
    assert len(first) == 30 and first[:15] != sorted(first[:15])
    assert {lang for lang, _ in first} == {"en", "zh"}
    assert bench.message_plan(pools, 30, seed=1) != first


def test_held_out_messages_have_no_markup():
    messages, info = bench.load_messages(300)
    assert info["count"] == 300 and info["per_language"]["en"] > 0 and info["per_language"]["zh"] > 0
    assert not any(ANNOTATION.search(m) for m in messages)
    assert messages == bench.load_messages(300)[0]


def test_sender_changes_every_ten_messages():
    senders = [bench.sender_id("p", i) for i in range(25)]
    assert len(set(senders[:10])) == 1 and len(set(senders)) == 3


def test_ratio():
    assert bench.ratio(3.0, 2.0) == 1.5
    assert bench.ratio(0, 0) is None
    assert bench.ratio(None, 2.0) is None
    assert bench.ratio(1.0, None) is None


def test_comparison_rows_and_table():
    bots = {
        "ours": {"training_s": 120.0, "sequential": {"p50_ms": 50.0}, "concurrency": {"errors": 0}},
        "starter": {"training_s": 60.0, "sequential": {"p50_ms": 25.0}, "concurrency": {"errors": 0}},
    }
    rows = {label: (o, s, r) for label, o, s, r in bench.comparison_rows(bots)}
    assert len(rows) == len(bench.METRICS)
    assert rows["training (rasa train), s"] == (120.0, 60.0, 2.0)
    assert rows["sequential latency p50, ms"] == (50.0, 25.0, 2.0)
    assert rows["concurrent errors"] == (0, 0, None)
    assert rows["action server start, s"] == (None, None, None)
    assert bench.ratios(bots)["training_s"] == 2.0
    table = bench.format_table(bench.comparison_rows(bots)).splitlines()
    assert table[0].split(" | ")[1:] == ["this assistant", "starter bot", "ours/starter"]
    assert len(table) == len(bench.METRICS) + 2
    training = next(line for line in table if line.startswith("training"))
    assert [cell.strip() for cell in training.split("|")[1:]] == ["120.0", "60.0", "2.00x"]
    assert len({len(line) for line in table}) == 1  # columns line up


def test_format_cell():
    assert bench.format_cell(None) == "-"
    assert bench.format_cell(3) == "3"
    assert bench.format_cell(3.14159) == "3.14"
    assert bench.format_cell(1361.12) == "1361.1"


def test_parse_vmrss_and_ppid_on_this_process():
    with open(f"/proc/{os.getpid()}/status") as handle:
        status = handle.read()
    with open(f"/proc/{os.getpid()}/stat") as handle:
        stat = handle.read()
    assert bench.parse_vmrss_kb(status) > 1000
    assert bench.parse_ppid(stat) == os.getppid()
    assert bench.parse_vmrss_kb("Name:\tkthreadd\nState:\tS\n") is None
    assert bench.parse_ppid("42 (a (weird) name) S 7 42 42 0") == 7


def test_tree_rss_counts_children():
    own = bench.tree_rss_mb(os.getpid())
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; x = bytearray(50 * 2**20); time.sleep(30)"], stdout=subprocess.PIPE
    )
    try:
        for _ in range(100):  # until the child has touched its 50 MB
            if (bench.tree_rss_mb(child.pid) or 0) > 50:
                break
            subprocess.run(["sleep", "0.1"])
        assert child.pid in bench.process_tree(os.getpid())
        assert bench.tree_rss_mb(os.getpid()) >= own + 40
    finally:
        child.kill()
        child.wait()
    assert bench.tree_rss_mb(child.pid) is None


def test_lookup_and_lock_store(tmp_path):
    assert bench.lookup({"a": {"b": 1}}, "a.b") == 1
    assert bench.lookup({"a": 1}, "a.b") is None
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("tracker_store:\n  type: SQL\n")
    assert not bench.lock_store_allows_workers(endpoints)
    endpoints.write_text("lock_store:\n  type: redis\n  url: localhost\n")
    assert bench.lock_store_allows_workers(endpoints)


def test_smoke_defaults_and_explicit_options_win():
    args = bench.parse_args(["--smoke", "--messages", "7"])
    assert (args.messages, args.users, args.duration, args.warmup) == (7, 3, 3.0, 1)
    args = bench.parse_args([])
    assert (args.messages, args.users, args.duration, args.only) == (300, 20, 30.0, "both")
