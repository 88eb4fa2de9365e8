"""Training and serving a bot: the processes the benchmark starts, `rasa train`, the Rasa server.

Every Rasa process (train, init, run), ours and the starter's alike, starts through the
project's entry point `python -m tools.serve`: the same version check and the same patches
for both bots, so the comparison measures the bots and not two different Rasas.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import requests

from tools import processes
from tools.bench.measure import REQUEST_TIMEOUT, concurrency, sequential
from tools.bench.memory import process_tree, tree_rss_mb

READY_MESSAGE = "hello"
READY_TIMEOUT = 900.0
STOP_GRACE = 20.0
# Every process the benchmark starts carries RUN_MARKER=<run id> in its environment (the e2e
# test finds leftovers by it).
RUN_MARKER = "ALIMAIL_BENCH_RUN"


class BenchError(processes.ProcessError):
    """A step of the benchmark failed (the message carries the log's tail)."""


def progress(message: str) -> None:
    """A time-stamped progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Processes:
    """Every process the benchmark starts, each in its own process group, so all can be stopped."""

    marker: str
    started: List[subprocess.Popen] = field(default_factory=list)

    def start(self, cmd: List[str], cwd: Path, env: Dict[str, str], log: Path) -> subprocess.Popen:
        """Start `cmd` with the run's marker in its environment, output to `log`."""
        process = processes.start(cmd, cwd, dict(env, **{RUN_MARKER: self.marker}), log)
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        """SIGTERM to the process group, SIGKILL after a grace period; the group is swept either way."""
        if process not in self.started:
            return
        self.started.remove(process)
        processes.stop(process, grace=STOP_GRACE)

    def stop_all(self) -> None:
        """Stop every process still running, the most recently started first."""
        for process in reversed(list(self.started)):
            self.stop(process)


def run_timed(procs: Processes, cmd: List[str], cwd: Path, env: Dict[str, str], log: Path) -> float:
    """Run a command to completion; its wall time in seconds. Raises with the log's tail on failure."""
    start = time.perf_counter()
    process = procs.start(cmd, cwd, env, log)
    try:
        code = process.wait()
    finally:
        procs.stop(process)
    if code != 0:
        raise BenchError(f"{' '.join(cmd)} failed with {code}:\n{processes.log_tail(log, 3000)}")
    return round(time.perf_counter() - start, 2)


def answers(url: str) -> bool:
    """Whether the REST webhook at `url` answers READY_MESSAGE with at least one message."""
    response = requests.post(url, json={"sender": "bench-ready", "message": READY_MESSAGE}, timeout=REQUEST_TIMEOUT)
    return response.status_code == 200 and bool(response.json())


@dataclass
class Bot:
    """How to serve one bot."""

    name: str
    project: Path
    model: Path
    credentials: Path
    endpoints: Optional[Path]  # ours: written once the action server's port is known
    env: Dict[str, str]
    actions: bool = False


@dataclass
class Bench:
    """Settings and state of one benchmark run."""

    args: argparse.Namespace
    work: Path
    procs: Processes
    python: Path  # the venv's interpreter, with Rasa and this project installed
    messages: List[str]

    def rasa(self, *args: str) -> List[str]:
        """A Rasa command line through the project's entry point (version check, patches)."""
        return [str(self.python), "-m", "tools.serve", *args]

    def action_server(self, port: int) -> List[str]:
        """The action server of the project in the working directory, on 127.0.0.1:`port` (through tools.serve)."""
        return self.rasa("actions", "--actions", "actions", "--host", "127.0.0.1", "--port", str(port))

    def base_env(self) -> Dict[str, str]:
        """The environment of a child: quiet TensorFlow, no telemetry, no PYTHONPATH (our packages
        are installed editable; each bot runs `python -m` in its own project folder)."""
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", RASA_TELEMETRY_ENABLED="false")
        env.pop("PYTHONPATH", None)
        env.pop("SANIC_WORKERS", None)
        return env

    def train(self, name: str, project: Path, env: Dict[str, str]) -> Tuple[float, Path]:
        """A cold `rasa train` (fresh cache and output folder); seconds and the model."""
        out, cache = self.work / f"{name}-models", self.work / f"{name}-train-cache"
        out.mkdir()
        cache.mkdir()
        progress(f"{name}: rasa train (cold cache, --out {out})")
        seconds = run_timed(
            self.procs,
            self.rasa("train", "--out", str(out), "--fixed-model-name", name),
            project,
            dict(env, RASA_CACHE_DIRECTORY=str(cache)),
            self.work / f"{name}-train.log",
        )
        progress(f"{name}: trained in {seconds:.1f}s")
        return seconds, out / f"{name}.tar.gz"


def start_rasa(bench: Bench, bot: Bot, env: Dict[str, str]) -> Tuple[subprocess.Popen, str, float]:
    """The Rasa server on a free port; the process, webhook URL and seconds to the first answer."""
    port = processes.free_port()
    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    log = bench.work / f"{bot.name}-rasa.log"
    cmd = bench.rasa(
        "run",
        "--model",
        str(bot.model),
        "--interface",
        "127.0.0.1",
        "--port",
        str(port),
        "--credentials",
        str(bot.credentials),
        "--endpoints",
        str(bot.endpoints),
    )
    start = time.perf_counter()
    process = bench.procs.start(cmd, bot.project, env, log)
    processes.wait_for(lambda: answers(url), process, log, READY_TIMEOUT, f"Rasa ({bot.name}) at {url}")
    return process, url, round(time.perf_counter() - start, 2)


def measure(bench: Bench, bot: Bot, url: str, rasa: subprocess.Popen) -> Dict[str, Any]:
    """Warm-up, sequential latency, memory, then the concurrent users."""
    args = bench.args
    sequential(url, bench.messages[: args.warmup], f"bench-{bot.name}-warmup")
    progress(f"{bot.name}: {len(bench.messages)} sequential messages")
    figures: Dict[str, Any] = {"sequential": sequential(url, bench.messages, f"bench-{bot.name}-seq")}
    figures["rss_mb"] = tree_rss_mb(rasa.pid)
    figures["rasa_processes"] = len(process_tree(rasa.pid))
    progress(f"{bot.name}: {args.users} users for {args.duration:g}s")
    figures["concurrency"] = concurrency(url, bench.messages, args.users, args.duration, f"bench-{bot.name}-load")
    figures["rss_after_concurrency_mb"] = tree_rss_mb(rasa.pid)
    figures["alive_after"] = rasa.poll() is None
    return figures
