"""The benchmark's command line (tools/bench/__main__.py): options, and a run that fails early."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tools.bench import ROOT
from tools.bench.__main__ import parse_args


def test_smoke_defaults_and_explicit_options_win():
    args = parse_args(["--smoke", "--messages", "7"])
    assert (args.messages, args.users, args.duration, args.warmup) == (7, 3, 3.0, 1)
    assert args.out == str(ROOT / "results/bench/smoke")
    args = parse_args([])
    assert (args.messages, args.users, args.duration, args.warmup, args.only) == (300, 20, 30.0, 5, "both")
    assert args.out.rstrip("/") == str(ROOT / "results/bench")
    assert parse_args(["--model", "m.tar.gz"]).model == "m.tar.gz"


@pytest.mark.parametrize("bad", [["--users", "0"], ["--messages", "0"], ["--duration", "0"], ["--only", "x"]])
def test_bad_options_are_refused(bad, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(bad)
    assert exited.value.code == 2


def test_a_failed_step_exits_1_and_leaves_no_results(tmp_path):
    out = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, "-m", "tools.bench", "--only", "ours", "--skip-train"]
        + ["--model", str(tmp_path / "missing.tar.gz"), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "bench failed: no model to serve for ours" in done.stderr
    assert not out.exists()
    assert (
        "usage: python -m tools.bench"
        in subprocess.run(
            [sys.executable, "-m", "tools.bench", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
        ).stdout
    )
