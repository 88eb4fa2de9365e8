"""The results: the side-by-side table, the machine it ran on, the JSON files."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from tools.bench import ROOT
from tools.bench.memory import read_proc

# (key, label) of every figure in the table; a dotted key reads a nested figure.
METRICS: List[Tuple[str, str]] = [
    ("training_s", "training (rasa train), s"),
    ("ready_s", "time to ready (start -> 1st answer), s"),
    ("action_server_start_s", "action server start, s"),
    ("rss_mb", "Rasa server RSS after warm-up, MB"),
    ("action_server_rss_mb", "action server RSS, MB"),
    ("sequential.p50_ms", "sequential latency p50, ms"),
    ("sequential.p95_ms", "sequential latency p95, ms"),
    ("sequential.p99_ms", "sequential latency p99, ms"),
    ("sequential.errors", "sequential errors"),
    ("concurrency.throughput_msg_s", "concurrent throughput, msg/s"),
    ("concurrency.p50_ms", "concurrent latency p50, ms"),
    ("concurrency.p95_ms", "concurrent latency p95, ms"),
    ("concurrency.errors", "concurrent errors"),
    ("all_processes_rss_mb", "memory of all its processes, MB"),
    ("growth.first_p50_ms", "one long conversation: p50 of turns 1-20, ms"),
    ("growth.last_p50_ms", "one long conversation: p50 of the last 20 turns, ms"),
]

# Issue 15's targets: (label, figure, comparison, target); throughput's depends on the profile.
TARGETS = [
    ("one at a time, p50 ours/starter", "ratios.sequential.p50_ms", "<=", 0.6),
    ("20 users, throughput ours/starter", "ratios.concurrency.throughput_msg_s", ">=", None),
    ("20 users, p95 ours/starter", "ratios.concurrency.p95_ms", "<=", 0.6),
    ("memory (all processes) ours/starter", "ratios.all_processes_rss_mb", "<=", 0.6),
    ("errors of ours (sequential, 20 users, long conversation)", "errors", "==", 0),
    ("last 20 turns / first 20 of one long conversation (p50)", "bots.ours.growth.ratio", "<=", 1.3),
    ("NLU in-process p50 / plain scikit-learn pipeline", "nlu_floor.p50_ratio", "<=", 2.0),
]
THROUGHPUT_TARGET = {"embedded": 1.5, "production": 3.0}
# The memory target is for what `make run` starts, the embedded profile; the production profile's
# figure (two Rasa workers against the starter's one process) is printed without one.
EMBEDDED_ONLY = {"memory (all processes) ours/starter"}
NO_TARGET_HERE = "no target in this profile (make run starts the embedded one)"


def lookup(figures: Dict[str, Any], key: str) -> Any:
    """A figure by dotted key (`sequential.p50_ms`); None when absent."""
    value: Any = figures
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def ratio(ours: Any, starter: Any) -> Optional[float]:
    """ours / starter, or None when either is missing or the starter's figure is 0."""
    if not isinstance(ours, (int, float)) or not isinstance(starter, (int, float)) or starter == 0:
        return None
    return round(ours / starter, 3)


def comparison_rows(bots: Dict[str, Dict[str, Any]]) -> List[Tuple[str, Any, Any, Optional[float]]]:
    """(label, ours, starter, ratio ours/starter) for every metric."""
    ours, starter = bots.get("ours") or {}, bots.get("starter") or {}
    return [
        (label, lookup(ours, key), lookup(starter, key), ratio(lookup(ours, key), lookup(starter, key)))
        for key, label in METRICS
    ]


def ratios(bots: Dict[str, Dict[str, Any]]) -> Dict[str, Optional[float]]:
    """Every metric's ratio ours/starter, keyed like METRICS."""
    return {
        key: ratio(lookup(bots.get("ours") or {}, key), lookup(bots.get("starter") or {}, key)) for key, _ in METRICS
    }


def format_cell(value: Any) -> str:
    """A figure for the table: '-' when missing, integers as is, others with 1-2 decimals."""
    if value is None:
        return "-"
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def format_table(rows: Sequence[Tuple[str, Any, Any, Optional[float]]]) -> str:
    """A plain-text table: metric | this assistant | starter bot | ours/starter."""
    header = ("metric", "this assistant", "starter bot", "ours/starter")
    cells = [header] + [
        (label, format_cell(o), format_cell(s), "-" if r is None else f"{r:.2f}x") for label, o, s, r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(4)]
    lines = [
        " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _git(*args: str) -> Optional[str]:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    return None


def _version(package: str) -> Optional[str]:
    with contextlib.suppress(metadata.PackageNotFoundError):
        return metadata.version(package)
    return None


def machine_info() -> Dict[str, Any]:
    """CPU, cores, RAM, versions, date, git commit and load average."""
    cpuinfo = read_proc("/proc/cpuinfo") or ""
    cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = re.search(r"^MemTotal:\s+(\d+)", read_proc("/proc/meminfo") or "", re.MULTILINE)
    return {
        "cpu_model": cpu.group(1).strip() if cpu else platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "ram_mb": round(int(meminfo.group(1)) / 1024) if meminfo else None,
        "python": platform.python_version(),
        "rasa": _version("rasa"),
        "rasa_sdk": _version("rasa-sdk"),
        "platform": platform.platform(),
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain")),
        "loadavg_start": loadavg(),
    }


def loadavg() -> List[str]:
    """The 1, 5 and 15 minute load averages as /proc/loadavg writes them."""
    return (read_proc("/proc/loadavg") or "").split()[:3]


def write_results(report: Dict[str, Any], out: Path) -> Path:
    """bench-<UTC timestamp>.json and latest.json in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    path = out / f"bench-{stamp}.json"
    path.write_text(text, encoding="utf-8")
    (out / "latest.json").write_text(text, encoding="utf-8")
    return path


def targets(result: Dict[str, Any], profile: str) -> List[Dict[str, Any]]:
    """Each target of issue 15 with the measured figure and whether it is met (None: not measured;
    `NO_TARGET_HERE`: the target is the embedded profile's)."""
    ours = (result.get("bots") or {}).get("ours") or {}
    errors = [lookup(ours, key) for key in ("sequential.errors", "concurrency.errors", "growth.errors")]
    known = [e for e in errors if isinstance(e, int)]
    measured_ratios: Dict[str, Any] = dict(result.get("ratios") or {})
    total_errors = sum(known) if known else None
    rows = []
    for label, key, comparison, target in TARGETS:
        target = THROUGHPUT_TARGET.get(profile, 1.5) if target is None else target
        if key.startswith("ratios."):
            value = measured_ratios.get(key[len("ratios.") :])
        elif key == "errors":
            value = total_errors
        else:
            value = lookup(result, key)
        met: Any = None
        if label in EMBEDDED_ONLY and profile != "embedded":
            met = NO_TARGET_HERE
        elif isinstance(value, (int, float)):
            met = {"<=": value <= target, ">=": value >= target, "==": value == target}[comparison]
        rows.append({"target": label, "value": value, "wanted": f"{comparison} {target}", "met": met})
    return rows


def format_targets(rows: Sequence[Dict[str, Any]]) -> str:
    """One line per target: the figure, what is wanted, met or not."""
    marks = {True: "met", False: "NOT met", None: "not measured", NO_TARGET_HERE: NO_TARGET_HERE}
    width = max((len(row["target"]) for row in rows), default=0)
    return "\n".join(
        f"{row['target'].ljust(width)}  {format_cell(row['value']):>8}  (wanted {row['wanted']}): {marks[row['met']]}"
        for row in rows
    )
