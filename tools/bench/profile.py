"""Where one turn's time goes (`make profile`): a short and a long conversation, each turn broken into its parts.

    .venv/bin/python -m tools.bench.profile --model models/X.tar.gz [--profile embedded|production]
        [--short 20] [--long 200] [--out results/profile]

Starts the action server and Rasa through `tools.serve` with TURN_PROFILE_FILE set (so the timing
wrappers of tools/turn_profile.py are installed: nowhere else), then talks over REST: a short
conversation (turns 1-20) and a long one (LONG turns of the same cycle: guide messages, an FAQ,
thanks, a topic change, stop). Prints, per part, the mean milliseconds per turn at turns 1-20 of
the short conversation, turns 1-20 and the last 20 turns of the long one, and the growth (last / first);
writes the raw lines and the table to --out. The production profile uses PostgreSQL and Redis on
127.0.0.1 (database `alimail_profile`, created when missing; Redis db 1, key prefix `alimailprofile`).
Timings only: it never fails on a figure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import requests
import yaml

from tools import processes
from tools.bench import ROOT
from tools.bench.measure import CONVERSATION, GROWTH_WINDOW

# One cycle of a real conversation, and the window of turns compared: the benchmark's (tools/bench/measure.py).
CYCLE = CONVERSATION
WINDOW = GROWTH_WINDOW
READY_TIMEOUT = 600.0
REQUEST_TIMEOUT = 60.0

# (part, label) in the order of a turn; indented labels are inside the part above them.
PARTS: List[Tuple[str, str]] = [
    ("turn", "turn in Rasa (Agent.handle_message)"),
    ("lock", "  lock (take + release)"),
    ("tracker.read", "  tracker store read"),
    ("tracker.read.deserialise", "    of which events -> tracker"),
    ("tracker.session", "  session check"),
    ("nlu", "  NLU (parse_message)"),
    ("policies", "  policies (prediction graph, all predictions)"),
    ("tracker.copy", "  tracker copies (before each action)"),
    ("actions", "  actions (all run this turn)"),
    ("remote.body", "    action-server request body (tracker, domain)"),
    ("remote.http", "    action-server call (JSON, HTTP, action server)"),
    ("server.handler", "      on the action server: webhook handler"),
    ("server.action", "        of which the action itself"),
    ("nlg", "    response rendering (NLG)"),
    ("tracker.write", "  tracker store write"),
]
COUNTS: List[Tuple[str, str]] = [
    ("remote.http", "action-server calls per turn"),
    ("remote.request_kb", "kB sent to the action server per turn"),
]


def production_endpoints(path: Path) -> None:
    """PostgreSQL trackers and Redis locks on this machine (the production profile's stores)."""
    from tools.bench.ours import production_stores

    path.write_text(yaml.safe_dump(production_stores(), sort_keys=False), encoding="utf-8")


def embedded_endpoints(path: Path, work: Path) -> None:
    """The project's own tracker store (endpoints.yml), its SQLite file in the temporary folder."""
    config = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8")) or {}
    config["tracker_store"] = dict(config.get("tracker_store") or {}, db=str(work / "trackers.sqlite3"))
    config.pop("action_endpoint", None)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def with_action_endpoint(path: Path, port: int) -> None:
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    endpoint = dict(
        (yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8")) or {}).get("action_endpoint") or {}
    )
    endpoint["url"] = f"http://127.0.0.1:{port}/webhook"
    config["action_endpoint"] = endpoint
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def say(session: requests.Session, url: str, sender: str, text: str) -> float:
    """Send one message; the round trip in ms (raises on an error: a profile of failures means nothing)."""
    start = time.perf_counter()
    response = session.post(url, json={"sender": sender, "message": text}, timeout=REQUEST_TIMEOUT)
    elapsed = (time.perf_counter() - start) * 1000.0
    response.raise_for_status()
    if not response.json():
        raise RuntimeError(f"no answer to {text!r}")
    return elapsed


def converse(url: str, sender: str, turns: int) -> List[float]:
    """`turns` messages of CYCLE, in order, in one conversation; the round trips in ms."""
    with requests.Session() as session:
        return [say(session, url, sender, CYCLE[i % len(CYCLE)]) for i in range(turns)]


def read_lines(path: Path) -> List[Dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def turns_with_server_parts(turns: List[Dict[str, Any]], calls: List[Dict[str, Any]]) -> None:
    """Give each Rasa-side turn the action-server side of its calls (matched in order per sender)."""
    pending: Dict[str, List[Dict[str, Any]]] = {}
    for call in calls:
        pending.setdefault(str(call.get("sender")), []).append(call)
    for turn in turns:
        queue = pending.get(str(turn["sender"]), [])
        for _ in range(int(turn["counts"].get("remote.http", 0))):
            if not queue:
                break
            call = queue.pop(0)
            for name in ("handler", "action"):
                key = f"server.{name}"
                turn["parts"][key] = turn["parts"].get(key, 0.0) + float(call["parts"].get(name, 0.0))


def part_value(turn: Dict[str, Any], part: str) -> float:
    parts = turn["parts"]
    if part == "turn":
        return float(parts.get("turn", 0.0)) - float(turn.get("overhead_ms", 0.0))
    if part == "actions":
        return sum(float(v) for k, v in parts.items() if k.startswith("action."))
    return float(parts.get(part, 0.0))


def summarise(turns: Sequence[Dict[str, Any]], round_trips: Sequence[float]) -> Dict[str, Any]:
    """Means per turn of every part, medians of the whole turn, and the per-node NLU and policy parts."""
    if not turns:
        return {}
    figures: Dict[str, Any] = {part: statistics.fmean(part_value(t, part) for t in turns) for part, _ in PARTS}
    figures["turn_median"] = statistics.median(part_value(t, "turn") for t in turns)
    figures["round_trip_median"] = statistics.median(round_trips)
    figures["channel"] = statistics.fmean(round_trips) - figures["turn"]
    figures["remote.http.count"] = statistics.fmean(t["counts"].get("remote.http", 0) for t in turns)
    figures["remote.request_kb"] = statistics.fmean(float(t["parts"].get("remote.request_kb", 0.0)) for t in turns)
    nodes: Dict[str, float] = {}
    for turn in turns:
        for key, value in turn["parts"].items():
            if key.startswith(("nlu.", "policies.")):
                nodes[key] = nodes.get(key, 0.0) + float(value) / len(turns)
    figures["nodes"] = dict(sorted(nodes.items(), key=lambda item: -item[1]))
    return figures


def _cell(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table(columns: Dict[str, Dict[str, Any]]) -> str:
    """The parts (rows) of each window (columns), and growth = last column / the one before it."""
    names = list(columns)
    rows: List[Tuple[str, ...]] = [("part (mean ms per turn)", *names, "growth")]

    def row(label: str, key: str) -> None:
        values = [columns[name].get(key) for name in names]
        first, last = (values[-2], values[-1]) if len(values) >= 2 else (None, None)
        growth = f"{last / first:.2f}x" if first and last is not None and first > 0.05 else "-"
        rows.append((label, *(_cell(v) for v in values), growth))

    row("client round trip, median", "round_trip_median")
    row("turn in Rasa, median", "turn_median")
    row("channel + HTTP (round trip - turn)", "channel")
    for key, label in PARTS:
        row(label, key)
    row("action-server calls per turn", "remote.http.count")
    row("kB sent to the action server per turn", "remote.request_kb")
    nodes = list(dict.fromkeys(k for c in columns.values() for k in c.get("nodes", {})))
    for node in nodes:
        values = [columns[name].get("nodes", {}).get(node, 0.0) for name in names]
        if max(values) >= 0.05:
            for name in names:
                columns[name][f"node:{node}"] = columns[name].get("nodes", {}).get(node, 0.0)
            row(f"  {node}", f"node:{node}")
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def start_servers(args: argparse.Namespace, work: Path, profile_file: Path) -> Tuple[List[Any], str]:
    """The action server and Rasa with the timing wrappers; the processes and the REST webhook URL."""
    python = str(Path(args.venv) / "bin" / "python")
    from tools.bench.bots import Bench, Processes

    # the benchmark's child environment (quiet TensorFlow, no telemetry, no SANIC_WORKERS) and command lines
    bench = Bench(args, work, Processes("profile"), Path(python), [])
    env = bench.base_env()
    env["TURN_PROFILE_FILE"] = str(profile_file)
    env.pop("ACTION_SERVER_TOKEN", None)
    env["TICKETS_DB_URL"] = f"sqlite:///{work / 'tickets.sqlite3'}"
    started: List[Any] = []
    action_port, rasa_port = processes.free_port(), processes.free_port()
    log = work / "actions.log"
    actions = processes.start(bench.action_server(action_port), ROOT, env, log)
    started.append(actions)
    processes.wait_until(f"http://127.0.0.1:{action_port}/health", actions, log, READY_TIMEOUT)
    endpoints = work / "endpoints.yml"
    if args.profile == "production":
        production_endpoints(endpoints)
    else:
        embedded_endpoints(endpoints, work)
    with_action_endpoint(endpoints, action_port)
    url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
    log = work / "rasa.log"
    cmd = bench.rasa("run", "--model", str(args.model), "--interface", "127.0.0.1", "--port", str(rasa_port))
    cmd += ["--credentials", str(ROOT / "credentials.yml"), "--endpoints", str(endpoints)]
    rasa = processes.start(cmd, ROOT, env, log)
    started.append(rasa)
    processes.wait_for(
        lambda: requests.post(url, json={"sender": "profile-ready", "message": "hello"}, timeout=30).ok,
        rasa,
        log,
        READY_TIMEOUT,
        f"Rasa at {url}",
    )
    return started, url


def run(args: argparse.Namespace, work: Path) -> Dict[str, Any]:
    profile_file = work / "turns.jsonl"
    started, url = start_servers(args, work, profile_file)
    try:
        run_id = uuid.uuid4().hex[:8]
        converse(url, f"profile-{run_id}-warm", len(CYCLE))  # untimed warm-up
        short_sender, long_sender = f"profile-{run_id}-short", f"profile-{run_id}-long"
        print(f"[profile] short conversation: {args.short} turns", file=sys.stderr)
        short_trips = converse(url, short_sender, args.short)
        print(f"[profile] long conversation: {args.long} turns", file=sys.stderr)
        long_trips = converse(url, long_sender, args.long)
        time.sleep(0.5)  # the last lines are written when each turn ends
    finally:
        processes.stop(*reversed(started))
    turns = read_lines(profile_file)
    turns_with_server_parts(turns, read_lines(Path(f"{profile_file}.actions")))
    by_sender: Dict[str, List[Dict[str, Any]]] = {}
    for turn in turns:
        # the channel names its conversations "<channel>:<sender>" (channels/rest.py)
        by_sender.setdefault(str(turn["sender"]).split(":", 1)[-1], []).append(turn)
    short, long_ = by_sender.get(short_sender, []), by_sender.get(long_sender, [])
    window = min(WINDOW, args.short, args.long)
    columns = {
        f"short 1-{window}": summarise(short[:window], short_trips[:window]),
        f"long 1-{window}": summarise(long_[:window], long_trips[:window]),
        f"long {args.long - window + 1}-{args.long}": summarise(long_[-window:], long_trips[-window:]),
    }
    return {"profile": args.profile, "model": str(args.model), "columns": columns, "table": table(columns)}


def default_model() -> Optional[str]:
    from trainer.model_hash import model_hash

    model = ROOT / "models" / f"{model_hash(ROOT)}.tar.gz"
    return str(model) if model.exists() else None


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="the model (default models/<hash>.tar.gz)")
    parser.add_argument("--profile", choices=("embedded", "production"), default="embedded")
    parser.add_argument("--short", type=int, default=20, help="turns of the short conversation")
    parser.add_argument("--long", type=int, default=200, help="turns of the long conversation")
    parser.add_argument("--venv", default=str(ROOT / ".venv"))
    parser.add_argument("--out", default=str(ROOT / "results/profile"))
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary folder (logs, raw lines)")
    args = parser.parse_args(argv)
    args.model = args.model or default_model()
    if not args.model:
        parser.error("no model: run `make train` or pass --model")
    if args.short < 1 or args.long < 2:
        parser.error("--short must be >= 1 and --long >= 2")
    work = Path(tempfile.mkdtemp(prefix="alimail-profile-"))
    try:
        result = run(args, work)
    except processes.ProcessError as error:
        print(f"profile failed: {error}", file=sys.stderr)
        return 1
    finally:
        if args.keep_temp:
            print(f"[profile] kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.profile}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{args.profile} profile, {args.model}\n")
    print(result["table"])
    print(f"\nwritten to {out / (args.profile + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
