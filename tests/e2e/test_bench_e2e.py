"""`python -m tools.bench --smoke` against the real servers: every figure is recorded for ours, and
nothing it started is left running. Timings are reported, never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

from tests.e2e.servers import model_path
from tools.bench.bots import RUN_MARKER
from tools.bench.report import METRICS, lookup

ROOT = Path(__file__).resolve().parents[2]
NOT_TIMED = {"training_s"}  # --skip-train: recorded as null with training_skipped


def processes_marked(run_id: str) -> List[int]:
    """Processes whose environment carries this benchmark run's marker."""
    marker = f"{RUN_MARKER}={run_id}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def test_smoke_run_records_every_metric_and_cleans_up(tmp_path):
    out = tmp_path / "bench"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.bench",
            "--smoke",
            "--only",
            "ours",
            "--skip-train",
            "--model",
            model_path(),
            "--messages",
            "20",
            "--duration",
            "3",
            "--users",
            "3",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert "this assistant" in done.stdout and "ours/starter" in done.stdout

    report = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    assert len(list(out.glob("bench-*.json"))) == 1
    assert report["smoke"] is True
    assert {"cpu_model", "cores", "ram_mb", "python", "rasa", "date_utc", "git_commit"} <= set(report["machine"])
    assert report["messages"]["count"] == 20

    ours = report["bots"]["ours"]
    assert "starter" not in report["bots"]
    for key, label in METRICS:
        value = lookup(ours, key)
        if key in NOT_TIMED:
            assert value is None and ours["training_skipped"] is True
        elif key.endswith("errors"):
            assert isinstance(value, int) and value >= 0, label
        else:
            assert isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0, label
    assert ours["sequential"]["messages"] == 20
    assert ours["sequential"]["answered"] + ours["sequential"]["errors"] == 20
    assert ours["concurrency"]["users"] == 3
    assert set(ours["concurrency"]["error_kinds"]) == {"status", "timeout", "connection"}
    assert ours["rss_mb"] > 0 and ours["alive_after"] is True
    assert set(report["ratios"]) == {key for key, _ in METRICS}
    assert all(value is None for value in report["ratios"].values())
    # issue 15: one conversation growing long, the NLU against its floor, the targets
    assert ours["growth"]["turns"] == 20 and ours["growth"]["errors"] == 0 and ours["growth"]["ratio"] > 0
    assert report["nlu_floor"]["ours"]["p50_ms"] > 0 and report["nlu_floor"]["floor"]["p50_ms"] > 0
    assert {row["target"] for row in report["targets"]} and "issue 15's targets" in done.stdout

    assert processes_marked(report["run_id"]) == []
    assert not Path(report["temp_dir"]).exists()
