"""Benchmark this assistant against the starter bot `rasa init --no-prompt` creates.

In one run, on the same machine, for each bot: training time, time to ready (process start ->
first answer over REST), resident memory of the Rasa server's process tree after warm-up,
sequential latency (p50/p95/p99) and throughput under concurrent simulated users. Messages are
the held-out NLU sets (English and Chinese) in a fixed seeded order, the same list for both bots.
Prints a side-by-side table and writes JSON to <out>/bench-<UTC timestamp>.json and
<out>/latest.json. It reports figures; it never fails on them.

Run with the project's venv (`make bench`, or `.venv/bin/python tools/bench.py --help`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import aiohttp
import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = {"en": ROOT / "tests/nlu/heldout.yml", "zh": ROOT / "tests/nlu/heldout_zh.yml"}
SEED = 20261127
REQUEST_TIMEOUT = 30.0
MESSAGES_PER_SENDER = 10
WARMUP_MESSAGES = 5
READY_MESSAGE = "hello"
READY_TIMEOUT = 900.0
ACTIONS_TIMEOUT = 300.0
STOP_GRACE = 20.0
RUN_MARKER = "ALIMAIL_BENCH_RUN"
BOTS = ("ours", "starter")

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
]


# --- pure helpers -----------------------------------------------------------------------------


def strip_markup(text: str) -> str:
    """`[text](entity)` and `[text]{"entity": ...}` annotations reduced to their text
    (the trainers' data check's rule, so both read examples the same way)."""
    from trainer.project import plain_text

    return plain_text(text)


def nlu_examples(document: Dict[str, Any]) -> List[str]:
    """The intent examples of a Rasa NLU YAML document, markup stripped."""
    texts: List[str] = []
    for item in document.get("nlu") or []:
        if "intent" not in item:
            continue
        examples = item.get("examples") or ""
        if isinstance(examples, str):
            lines = [line.strip()[1:].strip() for line in examples.splitlines() if line.strip().startswith("-")]
        else:
            lines = [str(e.get("text", "")) if isinstance(e, dict) else str(e) for e in examples]
        texts += [strip_markup(line) for line in lines if line]
    return texts


def message_plan(pools: Dict[str, List[str]], count: int, seed: int = SEED) -> List[Tuple[str, str]]:
    """`count` (language, text) pairs from all pools, in a seeded order (cycled when short)."""
    pooled = [(lang, text) for lang in sorted(pools) for text in pools[lang]]
    if not pooled:
        raise ValueError("no messages in the held-out sets")
    random.Random(seed).shuffle(pooled)
    return [pooled[i % len(pooled)] for i in range(count)]


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """The q-th percentile (0..100), linear between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(latencies_ms: Sequence[float]) -> Dict[str, Optional[float]]:
    """p50/p95/p99, mean and max of latencies in ms, rounded to 0.1 ms."""

    def rounded(value: Optional[float]) -> Optional[float]:
        return None if value is None else round(value, 1)

    mean = sum(latencies_ms) / len(latencies_ms) if latencies_ms else None
    return {
        "p50_ms": rounded(percentile(latencies_ms, 50)),
        "p95_ms": rounded(percentile(latencies_ms, 95)),
        "p99_ms": rounded(percentile(latencies_ms, 99)),
        "mean_ms": rounded(mean),
        "max_ms": rounded(max(latencies_ms) if latencies_ms else None),
    }


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


# --- memory from /proc ------------------------------------------------------------------------


def parse_vmrss_kb(status_text: str) -> Optional[int]:
    """VmRSS in kB from the text of /proc/<pid>/status (None for a kernel thread or zombie)."""
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", status_text, re.MULTILINE)
    return int(match.group(1)) if match else None


def parse_ppid(stat_text: str) -> int:
    """The parent pid from /proc/<pid>/stat (the command name may hold spaces and parentheses)."""
    return int(stat_text[stat_text.rindex(")") + 2 :].split()[1])


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def process_tree(pid: int) -> List[int]:
    """`pid` and all its descendants, found through the ppid of every /proc/<n>/stat."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        stat = _read(f"/proc/{entry}/stat") if entry.isdigit() else None
        if stat:
            children.setdefault(parse_ppid(stat), []).append(int(entry))
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        queue += children.get(current, [])
    return tree


def tree_rss_mb(pid: int) -> Optional[float]:
    """Resident memory of `pid` and its descendants in MB (None when `pid` is gone)."""
    sizes = [parse_vmrss_kb(_read(f"/proc/{p}/status") or "") for p in process_tree(pid)]
    known = [s for s in sizes if s is not None]
    return round(sum(known) / 1024, 1) if known else None


# --- processes --------------------------------------------------------------------------------


class BenchError(RuntimeError):
    """A step of the benchmark failed (the message carries the log's tail)."""


def log_tail(path: Path, chars: int = 3000) -> str:
    return (_read(str(path)) or "")[-chars:]


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Processes:
    """Every process the benchmark starts, each in its own process group, so all can be stopped."""

    marker: str
    started: List[subprocess.Popen] = field(default_factory=list)

    def start(self, cmd: List[str], cwd: Path, env: Dict[str, str], log: Path) -> subprocess.Popen:
        env = dict(env, **{RUN_MARKER: self.marker})
        with log.open("w") as out:
            process = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        """SIGTERM to the process group, SIGKILL after a grace period; the group is swept either way."""
        if process not in self.started:
            return
        self.started.remove(process)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)

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
        raise BenchError(f"{' '.join(cmd)} failed with {code}:\n{log_tail(log)}")
    return round(time.perf_counter() - start, 2)


def wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    """Poll GET `url` until 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"server exited with {process.returncode}:\n{log_tail(log)}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise BenchError(f"{url} not healthy after {timeout:.0f}s:\n{log_tail(log)}")


def wait_first_answer(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    """Poll POST `url` with READY_MESSAGE until it returns a non-empty answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"Rasa exited with {process.returncode}:\n{log_tail(log)}")
        with contextlib.suppress(requests.RequestException, ValueError):
            response = requests.post(
                url, json={"sender": "bench-ready", "message": READY_MESSAGE}, timeout=REQUEST_TIMEOUT
            )
            if response.status_code == 200 and response.json():
                return
        time.sleep(0.1)
    raise BenchError(f"no answer from {url} after {timeout:.0f}s:\n{log_tail(log)}")


# --- load phases ------------------------------------------------------------------------------


def sender_id(prefix: str, index: int) -> str:
    """A fresh conversation every MESSAGES_PER_SENDER messages."""
    return f"{prefix}-{index // MESSAGES_PER_SENDER}"


def sequential(url: str, messages: Sequence[str], prefix: str) -> Dict[str, Any]:
    """Send the messages one at a time; latency summary, errors and empty answers."""
    latencies: List[float] = []
    errors = empty = 0
    with requests.Session() as session:
        for index, message in enumerate(messages):
            start = time.perf_counter()
            try:
                response = session.post(
                    url, json={"sender": sender_id(prefix, index), "message": message}, timeout=REQUEST_TIMEOUT
                )
                answer = response.json() if response.status_code == 200 else None
            except (requests.RequestException, ValueError):
                answer = None
            elapsed = (time.perf_counter() - start) * 1000
            if answer is None:
                errors += 1
                continue
            latencies.append(elapsed)
            empty += not answer
    return {
        "messages": len(messages),
        "answered": len(latencies),
        "errors": errors,
        "empty_answers": empty,
        **latency_summary(latencies),
    }


@dataclass
class LoadTally:
    """What the simulated users saw."""

    latencies: List[float] = field(default_factory=list)
    errors: Dict[str, int] = field(default_factory=lambda: {"status": 0, "timeout": 0, "connection": 0})
    empty: int = 0


async def _one_request(session: aiohttp.ClientSession, url: str, sender: str, message: str, tally: LoadTally) -> None:
    start = time.perf_counter()
    try:
        async with session.post(url, json={"sender": sender, "message": message}) as response:
            body = await response.read()
            if response.status != 200:
                tally.errors["status"] += 1
                return
    except asyncio.TimeoutError:
        tally.errors["timeout"] += 1
        return
    except aiohttp.ClientError:
        tally.errors["connection"] += 1
        return
    tally.latencies.append((time.perf_counter() - start) * 1000)
    with contextlib.suppress(ValueError):
        tally.empty += not json.loads(body or b"[]")


async def _user(
    session: aiohttp.ClientSession,
    url: str,
    user: int,
    offset: int,
    messages: Sequence[str],
    deadline: float,
    prefix: str,
    tally: LoadTally,
) -> None:
    """One simulated user (from its own offset in the list): the next message as soon as the
    previous answer arrived, a fresh conversation every MESSAGES_PER_SENDER messages."""
    index = 0
    while time.monotonic() < deadline:
        message = messages[(offset + index) % len(messages)]
        await _one_request(session, url, sender_id(f"{prefix}-u{user}", index), message, tally)
        index += 1


async def _concurrency(
    url: str, messages: Sequence[str], users: int, duration: float, prefix: str
) -> Tuple[LoadTally, float]:
    tally = LoadTally()
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=users)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        start = time.monotonic()
        deadline = start + duration
        stride = max(1, len(messages) // users)
        await asyncio.gather(
            *(_user(session, url, u, u * stride, messages, deadline, prefix, tally) for u in range(users))
        )
        return tally, time.monotonic() - start


def concurrency(url: str, messages: Sequence[str], users: int, duration: float, prefix: str) -> Dict[str, Any]:
    """`users` simulated users for `duration` seconds: throughput, latency, errors."""
    tally, elapsed = asyncio.run(_concurrency(url, messages, users, duration, prefix))
    answered = len(tally.latencies)
    summary = latency_summary(tally.latencies)
    return {
        "users": users,
        "duration_s": round(elapsed, 2),
        "answered": answered,
        "throughput_msg_s": round(answered / elapsed, 2) if elapsed > 0 else 0.0,
        "p50_ms": summary["p50_ms"],
        "p95_ms": summary["p95_ms"],
        "p99_ms": summary["p99_ms"],
        "errors": sum(tally.errors.values()),
        "error_kinds": tally.errors,
        "empty_answers": tally.empty,
    }


# --- the two bots -----------------------------------------------------------------------------


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
    rasa: Path
    messages: List[str]

    def base_env(self, project: Optional[Path]) -> Dict[str, str]:
        """The environment of a child: quiet TensorFlow, no telemetry, PYTHONPATH only for ours."""
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", RASA_TELEMETRY_ENABLED="false")
        env.pop("PYTHONPATH", None)
        env.pop("SANIC_WORKERS", None)
        if project is not None:
            env["PYTHONPATH"] = str(project)
        return env

    def train(self, name: str, project: Path, env: Dict[str, str]) -> Tuple[float, Path]:
        """A cold `rasa train` (fresh cache and output folder); seconds and the model."""
        out, cache = self.work / f"{name}-models", self.work / f"{name}-train-cache"
        out.mkdir()
        cache.mkdir()
        progress(f"{name}: rasa train (cold cache, --out {out})")
        seconds = run_timed(
            self.procs,
            [str(self.rasa), "train", "--out", str(out), "--fixed-model-name", name],
            project,
            dict(env, RASA_CACHE_DIRECTORY=str(cache)),
            self.work / f"{name}-train.log",
        )
        progress(f"{name}: trained in {seconds:.1f}s")
        return seconds, out / f"{name}.tar.gz"


def newest_model(folder: Path) -> Path:
    models = sorted(folder.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise BenchError(f"no model in {folder}")
    return models[-1]


def ours_endpoints(bench: Bench, action_port: int) -> Path:
    """The endpoints file for ours: --endpoints FILE or SQLite trackers in the temp folder;
    either way the action endpoint points at the benchmark's action server."""
    if bench.args.endpoints:
        config = yaml.safe_load(Path(bench.args.endpoints).read_text(encoding="utf-8")) or {}
    else:
        config = {
            "tracker_store": {"type": "SQL", "dialect": "sqlite", "db": str(bench.work / "ours-trackers.sqlite3")}
        }
    config["action_endpoint"] = {"url": f"http://127.0.0.1:{action_port}/webhook"}
    path = bench.work / "ours-endpoints.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def lock_store_allows_workers(endpoints: Path) -> bool:
    """Rasa runs more than one Sanic worker only with a lock store that is not in memory."""
    config = yaml.safe_load(endpoints.read_text(encoding="utf-8")) or {}
    lock_store = config.get("lock_store") or {}
    return bool(lock_store) and str(lock_store.get("type", "in_memory")).lower() not in ("in_memory", "")


def prepare_ours(bench: Bench) -> Tuple[Dict[str, Any], Bot]:
    """Train ours cold (unless --skip-train); the model served is --model or the one just trained."""
    env = bench.base_env(ROOT)
    figures: Dict[str, Any] = {"training_s": None, "training_skipped": bench.args.skip_train}
    trained = None
    if not bench.args.skip_train:
        figures["training_s"], trained = bench.train("ours", ROOT, env)
    model = Path(bench.args.model) if bench.args.model else trained
    if model is None or not model.exists():
        raise BenchError(f"no model to serve for ours ({model}); run `make train` or drop --skip-train")
    figures["model"] = str(model)
    bot = Bot("ours", ROOT, model.resolve(), ROOT / "credentials.yml", None, env, actions=True)
    return figures, bot


def prepare_starter(bench: Bench) -> Tuple[Dict[str, Any], Bot]:
    """`rasa init --no-prompt` into the temp folder (it trains a model itself), then a cold
    `rasa train` of that project, timed on its own (skipped with --skip-train: init's model)."""
    project = bench.work / "starter"
    project.mkdir()
    env = bench.base_env(None)
    progress("starter: rasa init --no-prompt (it trains a first model itself)")
    init_s = run_timed(
        bench.procs,
        [str(bench.rasa), "init", "--no-prompt", "--init-dir", str(project)],
        bench.work,
        dict(env, RASA_CACHE_DIRECTORY=str(bench.work / "starter-init-cache")),
        bench.work / "starter-init.log",
    )
    figures: Dict[str, Any] = {"init_s": init_s, "training_s": None, "training_skipped": bench.args.skip_train}
    model = newest_model(project / "models")
    if not bench.args.skip_train:
        figures["training_s"], model = bench.train("starter", project, env)
    figures["model"] = model.name
    bot = Bot("starter", project, model, project / "credentials.yml", project / "endpoints.yml", env)
    return figures, bot


def start_actions(bench: Bench, bot: Bot) -> Tuple[subprocess.Popen, int, float]:
    """Our action server on a free port (tickets in the temp folder); the process, port and start time."""
    port = free_port()
    env = dict(bot.env, SANIC_HOST="127.0.0.1", TICKETS_DB_URL=f"sqlite:///{bench.work / 'ours-tickets.sqlite3'}")
    env.pop("TICKET_WEBHOOK_URL", None)
    log = bench.work / "ours-actions.log"
    start = time.perf_counter()
    process = bench.procs.start(
        [str(bench.rasa), "run", "actions", "--actions", "actions", "--port", str(port)], bot.project, env, log
    )
    wait_healthy(f"http://127.0.0.1:{port}/health", process, log, ACTIONS_TIMEOUT)
    return process, port, round(time.perf_counter() - start, 2)


def start_rasa(bench: Bench, bot: Bot, env: Dict[str, str]) -> Tuple[subprocess.Popen, str, float]:
    """The Rasa server on a free port; the process, webhook URL and seconds to the first answer."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    log = bench.work / f"{bot.name}-rasa.log"
    cmd = [
        str(bench.rasa),
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
    ]
    start = time.perf_counter()
    process = bench.procs.start(cmd, bot.project, env, log)
    wait_first_answer(url, process, log, READY_TIMEOUT)
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


def sanic_workers(workers: int, endpoints: Path, env: Dict[str, str]) -> Dict[str, Any]:
    """Set SANIC_WORKERS for our Rasa server; record whether Rasa will honour it."""
    env["SANIC_WORKERS"] = str(workers)
    honoured = workers == 1 or lock_store_allows_workers(endpoints)
    if not honoured:
        progress(
            f"ours: SANIC_WORKERS={workers} needs a lock store that is not in memory "
            "(--endpoints FILE with lock_store); Rasa will run 1 worker"
        )
    return {"sanic_workers": workers, "sanic_workers_honoured": honoured}


def serve_and_measure(bench: Bench, bot: Bot) -> Dict[str, Any]:
    """Start the bot's servers, measure, stop them."""
    figures: Dict[str, Any] = {}
    actions = None
    env = dict(bot.env)
    try:
        if bot.actions:
            progress("ours: starting the action server")
            actions, port, figures["action_server_start_s"] = start_actions(bench, bot)
            bot.endpoints = ours_endpoints(bench, port)
            if bench.args.sanic_workers:
                figures.update(sanic_workers(bench.args.sanic_workers, bot.endpoints, env))
        progress(f"{bot.name}: starting Rasa ({bot.model.name})")
        rasa, url, figures["ready_s"] = start_rasa(bench, bot, env)
        progress(f"{bot.name}: answered after {figures['ready_s']:.1f}s")
        figures.update(measure(bench, bot, url, rasa))
        if actions is not None:
            figures["action_server_rss_mb"] = tree_rss_mb(actions.pid)
    finally:
        bench.procs.stop_all()
    return figures


# --- machine, output, main --------------------------------------------------------------------


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
    cpuinfo = _read("/proc/cpuinfo") or ""
    cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = re.search(r"^MemTotal:\s+(\d+)", _read("/proc/meminfo") or "", re.MULTILINE)
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
        "loadavg_start": (_read("/proc/loadavg") or "").split()[:3],
    }


def write_results(report: Dict[str, Any], out: Path) -> Path:
    """bench-<UTC timestamp>.json and latest.json in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    path = out / f"bench-{stamp}.json"
    path.write_text(text, encoding="utf-8")
    (out / "latest.json").write_text(text, encoding="utf-8")
    return path


def load_messages(count: int) -> Tuple[List[str], Dict[str, Any]]:
    """The message list both bots get, and how it was made."""
    pools = {
        lang: nlu_examples(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        for lang, path in HELDOUT.items()
        if path.exists()
    }
    plan = message_plan(pools, count)
    texts = [text for _, text in plan]
    info = {
        "count": len(plan),
        "seed": SEED,
        "per_language": {lang: sum(1 for plan_lang, _ in plan if plan_lang == lang) for lang in pools},
        "sources": [str(path.relative_to(ROOT)) for path in HELDOUT.values() if path.exists()],
        "sha256": hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16],
    }
    return texts, info


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, help="seconds of concurrent load (default 30; smoke 3)")
    parser.add_argument("--users", type=int, help="concurrent simulated users (default 20; smoke 3)")
    parser.add_argument("--messages", type=int, help="sequential messages (default 300; smoke 20)")
    parser.add_argument("--warmup", type=int, help=f"untimed messages first (default {WARMUP_MESSAGES}; smoke 1)")
    parser.add_argument("--only", choices=("ours", "starter", "both"), default="both")
    parser.add_argument(
        "--skip-train",
        action="store_true",
        help="no timed training: ours serves --model, the starter the model `rasa init` trained",
    )
    parser.add_argument("--model", help="our model to serve (default: models/<hash>.tar.gz, else the one trained)")
    parser.add_argument("--sanic-workers", type=int, help="SANIC_WORKERS for our Rasa server (>1 needs a lock store)")
    parser.add_argument(
        "--endpoints",
        help="endpoints file for ours instead of the generated one "
        "(its action_endpoint is pointed at the bench's action server)",
    )
    parser.add_argument("--venv", default=str(ROOT / ".venv"), help="the virtual environment with rasa")
    parser.add_argument("--out", help="results folder (default results/bench; smoke: results/bench/smoke)")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary folder (logs) for debugging")
    parser.add_argument("--smoke", action="store_true", help="a quick check run: small defaults, marked smoke")
    args = parser.parse_args(argv)
    small = args.smoke
    defaults = {
        "duration": 3.0 if small else 30.0,
        "users": 3 if small else 20,
        "messages": 20 if small else 300,
        "warmup": 1 if small else WARMUP_MESSAGES,
        "out": str(ROOT / "results/bench" / ("smoke" if small else "")),
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.model is None:
        default_model = ROOT / "models" / f"{_model_hash()}.tar.gz"
        args.model = str(default_model) if default_model.exists() else None
    if args.messages < 1 or args.users < 1 or args.duration <= 0:
        parser.error("--messages and --users must be >= 1 and --duration > 0")
    return args


def _model_hash() -> str:
    from trainer.model_hash import model_hash  # the Makefile's model name

    return model_hash(ROOT)


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace, work: Path, procs: Processes) -> Dict[str, Any]:
    """Every figure for the selected bots, one bot at a time."""
    messages, message_info = load_messages(args.messages)
    bench = Bench(args, work, procs, Path(args.venv) / "bin" / "rasa", messages)
    selected = BOTS if args.only == "both" else (args.only,)
    prepared = {name: (prepare_ours if name == "ours" else prepare_starter)(bench) for name in selected}
    bots = {}
    for name, (figures, bot) in prepared.items():
        bots[name] = {**figures, **serve_and_measure(bench, bot)}
    return {"messages": message_info, "bots": bots, "ratios": ratios(bots)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    run_id = uuid.uuid4().hex
    work = Path(tempfile.mkdtemp(prefix="alimail-bench-"))
    procs = Processes(run_id)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)
    report: Dict[str, Any] = {"schema": 1, "run_id": run_id, "smoke": args.smoke, "machine": machine_info()}
    try:
        report.update(run(args, work, procs))
    except BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench interrupted; stopping everything it started", file=sys.stderr)
        return 130
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        procs.stop_all()
        if args.keep_temp:
            progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report["settings"] = {
        k: getattr(args, k)
        for k in (
            "messages",
            "users",
            "duration",
            "warmup",
            "only",
            "skip_train",
            "model",
            "sanic_workers",
            "endpoints",
        )
    }
    report["settings"].update(request_timeout_s=REQUEST_TIMEOUT, messages_per_sender=MESSAGES_PER_SENDER)
    report["temp_dir"] = str(work)
    report["machine"]["loadavg_end"] = (_read("/proc/loadavg") or "").split()[:3]
    report["wall_s"] = round(time.perf_counter() - started, 1)
    path = write_results(report, Path(args.out))
    print(format_table(comparison_rows(report["bots"])))
    print(f"\nwall time {report['wall_s']:.0f}s; results: {path} (and latest.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
