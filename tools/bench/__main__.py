"""The benchmark's command line: `python -m tools.bench --help` (see tools/bench/__init__.py)."""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import tools.bench
from tools.bench import ROOT
from tools.bench.action_call import action_call_costs
from tools.bench.bots import Bench, Bot, Processes, measure, progress, start_rasa
from tools.bench.measure import MESSAGES_PER_SENDER, REQUEST_TIMEOUT, growth
from tools.bench.memory import tree_rss_mb
from tools.bench.messages import load_messages
from tools.bench.nlu_floor import nlu_floor
from tools.bench.ours import ours_endpoints, prepare_ours, sanic_workers, start_actions
from tools.bench.report import (
    comparison_rows,
    format_table,
    format_targets,
    loadavg,
    machine_info,
    ratios,
    targets,
    write_results,
)
from tools.bench.starter import prepare_starter
from tools.processes import ProcessError

WARMUP_MESSAGES = 5
BOTS = ("ours", "starter")


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
            figures["action_call"] = action_call_costs(port)
            progress(
                "ours: one action call p50 {http_p50_ms} ms over HTTP, {in_process_p50_ms} ms in-process".format(
                    **figures["action_call"]
                )
            )
            figures["action_server_rss_mb"] = tree_rss_mb(actions.pid)
            rss = [figures.get("rss_mb"), figures["action_server_rss_mb"]]
            figures["all_processes_rss_mb"] = round(sum(r for r in rss if r), 1)
            progress(f"ours: one conversation of {bench.args.long_turns} turns")
            figures["growth"] = growth(url, bench.args.long_turns)
        else:
            figures["all_processes_rss_mb"] = figures.get("rss_mb")
    finally:
        bench.procs.stop_all()
    return figures


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The options, with the defaults of a full or a --smoke run filled in."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench", description=(tools.bench.__doc__ or "").split("\n\n")[0]
    )
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
        "--profile",
        choices=("embedded", "production"),
        default="embedded",
        help="ours with the embedded stores (SQLite, default) or the production ones (PostgreSQL and Redis on "
        "this machine, 2 Sanic workers unless --sanic-workers)",
    )
    parser.add_argument("--long-turns", type=int, help="turns of ours' long conversation (default 200; smoke 20)")
    parser.add_argument("--no-nlu-floor", action="store_true", help="skip NLU vs the plain scikit-learn pipeline")
    parser.add_argument(
        "--endpoints",
        help="endpoints file for ours instead of the generated one "
        "(its action_endpoint is pointed at the bench's action server)",
    )
    parser.add_argument(
        "--venv", default=str(ROOT / ".venv"), help="the virtual environment with rasa and this project"
    )
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
        "long_turns": 20 if small else 200,
        "out": str(ROOT / "results/bench" / ("smoke" if small else "")),
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.model is None:
        default_model = ROOT / "models" / f"{_model_hash()}.tar.gz"
        args.model = str(default_model) if default_model.exists() else None
    if args.profile == "production" and args.sanic_workers is None and not args.endpoints:
        args.sanic_workers = 2
    if args.messages < 1 or args.users < 1 or args.duration <= 0 or args.long_turns < 2:
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
    bench = Bench(args, work, procs, Path(args.venv) / "bin" / "python", messages)
    selected = BOTS if args.only == "both" else (args.only,)
    prepared = {name: (prepare_ours if name == "ours" else prepare_starter)(bench) for name in selected}
    bots = {}
    for name, (figures, bot) in prepared.items():
        bots[name] = {**figures, **serve_and_measure(bench, bot)}
    result: Dict[str, Any] = {"messages": message_info, "bots": bots, "ratios": ratios(bots)}
    if "ours" in prepared and not args.no_nlu_floor:
        progress("ours: NLU in-process against the plain scikit-learn pipeline")
        result["nlu_floor"] = nlu_floor(bench, Path(bots["ours"]["model"]))
    result["targets"] = targets(result, args.profile)
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark, write the results, print the table; 1 when a step failed, 130 when interrupted."""
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
    except ProcessError as error:  # BenchError too
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
            "profile",
            "long_turns",
        )
    }
    report["settings"].update(request_timeout_s=REQUEST_TIMEOUT, messages_per_sender=MESSAGES_PER_SENDER)
    report["temp_dir"] = str(work)
    report["machine"]["loadavg_end"] = loadavg()
    report["wall_s"] = round(time.perf_counter() - started, 1)
    path = write_results(report, Path(args.out))
    print(format_table(comparison_rows(report["bots"])))
    print(f"\nissue 15's targets ({args.profile} profile; timings on a shared machine are noisy):")
    print(format_targets(report["targets"]))
    print(f"\nwall time {report['wall_s']:.0f}s; results: {path} (and latest.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
