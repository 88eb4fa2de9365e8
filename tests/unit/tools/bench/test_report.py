"""The results (tools/bench/report.py): ratios, the table, the machine and the JSON files."""

from __future__ import annotations

import json

import pytest

from tools.bench import report


def test_ratio():
    assert report.ratio(3.0, 2.0) == 1.5
    assert report.ratio(0, 0) is None
    assert report.ratio(None, 2.0) is None
    assert report.ratio(1.0, None) is None


def test_lookup():
    assert report.lookup({"a": {"b": 1}}, "a.b") == 1
    assert report.lookup({"a": 1}, "a.b") is None
    assert report.lookup({}, "a") is None


def test_comparison_rows_and_table():
    bots = {
        "ours": {"training_s": 120.0, "sequential": {"p50_ms": 50.0}, "concurrency": {"errors": 0}},
        "starter": {"training_s": 60.0, "sequential": {"p50_ms": 25.0}, "concurrency": {"errors": 0}},
    }
    rows = {label: (o, s, r) for label, o, s, r in report.comparison_rows(bots)}
    assert len(rows) == len(report.METRICS)
    assert rows["training (rasa train), s"] == (120.0, 60.0, 2.0)
    assert rows["sequential latency p50, ms"] == (50.0, 25.0, 2.0)
    assert rows["concurrent errors"] == (0, 0, None)
    assert rows["action server start, s"] == (None, None, None)
    assert report.ratios(bots)["training_s"] == 2.0
    assert set(report.ratios({"ours": bots["ours"]})) == {key for key, _ in report.METRICS}
    table = report.format_table(report.comparison_rows(bots)).splitlines()
    assert table[0].split(" | ")[1:] == ["this assistant", "starter bot", "ours/starter"]
    assert len(table) == len(report.METRICS) + 2
    training = next(line for line in table if line.startswith("training"))
    assert [cell.strip() for cell in training.split("|")[1:]] == ["120.0", "60.0", "2.00x"]
    assert len({len(line) for line in table}) == 1  # columns line up


def test_format_cell():
    assert report.format_cell(None) == "-"
    assert report.format_cell(3) == "3"
    assert report.format_cell(True) == "True"
    assert report.format_cell(3.14159) == "3.14"
    assert report.format_cell(1361.12) == "1361.1"


def test_machine_info():
    info = report.machine_info()
    assert {"cpu_model", "cores", "ram_mb", "python", "rasa", "rasa_sdk", "date_utc", "git_commit"} <= set(info)
    assert info["cores"] >= 1 and info["ram_mb"] > 0 and info["rasa"]
    assert len(info["loadavg_start"]) == 3 and len(report.loadavg()) == 3


def test_write_results_writes_a_stamped_file_and_latest(tmp_path):
    out = tmp_path / "bench"
    path = report.write_results({"schema": 1, "text": "退信"}, out)
    assert path.parent == out and path.name.startswith("bench-") and path.suffix == ".json"
    assert json.loads(path.read_text(encoding="utf-8")) == {"schema": 1, "text": "退信"}
    assert (out / "latest.json").read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    assert "退信" in path.read_text(encoding="utf-8")  # not escaped


def test_targets_say_which_of_issue_15s_targets_are_met():
    result = {
        "bots": {
            "ours": {"sequential": {"errors": 0}, "concurrency": {"errors": 2}, "growth": {"ratio": 1.1, "errors": 0}},
            "starter": {"sequential": {"errors": 0}, "concurrency": {"errors": 0}},
        },
        "ratios": {"sequential.p50_ms": 0.5, "concurrency.throughput_msg_s": 2.0, "concurrency.p95_ms": 0.7},
        "nlu_floor": {"p50_ratio": 3.0},
    }
    rows = {row["target"]: row for row in report.targets(result, "production")}
    assert [row["met"] for row in rows.values()] == [True, False, False, report.NO_TARGET_HERE, False, True, False]
    assert rows["20 users, throughput ours/starter"]["wanted"] == ">= 3.0"  # production; embedded 1.5
    assert "NOT met" in report.format_targets(list(rows.values()))


@pytest.mark.parametrize("profile, expected", [("embedded", False), ("production", report.NO_TARGET_HERE)])
def test_the_memory_target_is_the_embedded_profiles(profile, expected):
    """What `make run` starts; in production two Rasa workers are measured against one starter process."""
    rows = {row["target"]: row for row in report.targets({"ratios": {"all_processes_rss_mb": 0.76}}, profile)}
    memory = rows["memory (all processes) ours/starter"]
    assert (memory["value"], memory["met"]) == (0.76, expected)
    assert f"0.76  (wanted <= 0.6): {'NOT met' if expected is False else 'no target in this profile'}" in (
        report.format_targets([memory])
    )
