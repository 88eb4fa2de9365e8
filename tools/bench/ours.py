"""This assistant: its model, its action server and the endpoints file that points at it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Tuple

import yaml

from tools import processes
from tools.bench import ROOT
from tools.bench.bots import Bench, BenchError, Bot, progress

ACTIONS_TIMEOUT = 300.0


def ours_endpoints(bench: Bench, action_port: int) -> Path:
    """The endpoints file for ours: --endpoints FILE or SQLite trackers in the temp folder;
    either way the action endpoint points at the benchmark's action server."""
    if bench.args.endpoints:
        config = yaml.safe_load(Path(bench.args.endpoints).read_text(encoding="utf-8")) or {}
    elif getattr(bench.args, "profile", "embedded") == "production":
        config = production_stores()
    else:  # the tracker store `make run` uses (endpoints.yml), its SQLite file in the temp folder
        project = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8")) or {}
        config = {"tracker_store": dict(project["tracker_store"], db=str(bench.work / "ours-trackers.sqlite3"))}
    config["action_endpoint"] = {"url": f"http://127.0.0.1:{action_port}/webhook"}
    path = bench.work / "ours-endpoints.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def production_stores() -> Dict[str, Any]:
    """The production profile's stores on this machine: PostgreSQL trackers (database `alimail_profile`,
    created when missing) and Redis locks (db 1, key prefix `alimailprofile`), as `make profile` uses."""
    return {
        "tracker_store": {
            "type": "stores.strict.StrictSQLTrackerStore",
            "dialect": "postgresql",
            "url": "127.0.0.1",
            "port": 5432,
            "db": "alimail_profile",
            "login_db": "postgres",
            "username": "postgres",
        },
        "lock_store": {
            "type": "stores.strict.StrictRedisLockStore",
            "url": "127.0.0.1",
            "port": 6379,
            "db": 1,
            "key_prefix": "alimailprofile",
        },
    }


def lock_store_allows_workers(endpoints: Path) -> bool:
    """Rasa runs more than one Sanic worker only with a lock store that is not in memory."""
    config = yaml.safe_load(endpoints.read_text(encoding="utf-8")) or {}
    lock_store = config.get("lock_store") or {}
    return bool(lock_store) and str(lock_store.get("type", "in_memory")).lower() not in ("in_memory", "")


def prepare_ours(bench: Bench) -> Tuple[Dict[str, Any], Bot]:
    """Train ours cold (unless --skip-train); the model served is --model or the one just trained."""
    env = bench.base_env()
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


def start_actions(bench: Bench, bot: Bot) -> Tuple[subprocess.Popen, int, float]:
    """Our action server on a free port (tickets in the temp folder); the process, port and start time."""
    port = processes.free_port()
    env = dict(bot.env, SANIC_HOST="127.0.0.1", TICKETS_DB_URL=f"sqlite:///{bench.work / 'ours-tickets.sqlite3'}")
    env.pop("TICKET_WEBHOOK_URL", None)
    # On loopback without the shared secret, as ours_endpoints' action_endpoint sends none.
    env.pop("ACTION_SERVER_TOKEN", None)
    log = bench.work / "ours-actions.log"
    start = time.perf_counter()
    process = bench.procs.start(bench.action_server(port), bot.project, env, log)
    processes.wait_until(f"http://127.0.0.1:{port}/health", process, log, ACTIONS_TIMEOUT)
    return process, port, round(time.perf_counter() - start, 2)


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
