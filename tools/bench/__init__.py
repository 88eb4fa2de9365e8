"""Benchmark this assistant against the starter bot `rasa init --no-prompt` creates.

In one run, on the same machine, for each bot: training time, time to ready (process start ->
first answer over REST), resident memory of the Rasa server's process tree after warm-up,
sequential latency (p50/p95/p99) and throughput under concurrent simulated users. Messages are
the held-out NLU sets (English and Chinese) in a fixed seeded order, the same list for both bots.
Prints a side-by-side table and writes JSON to <out>/bench-<UTC timestamp>.json and
<out>/latest.json. It reports figures; it never fails on them.

Run with the project's venv (`make bench`, or `.venv/bin/python -m tools.bench --help`).

For ours also (issue 15): one conversation of 200 turns (the median reply at its last 20 turns
against its first 20), the NLU's in-process parse time against a plain scikit-learn pipeline
(`nlu_floor`), and issue 15's targets, met or not; `--profile production` serves ours with
PostgreSQL and Redis on this machine and 2 Sanic workers.

Modules: `__main__` the command line and the order of the steps; `messages` the message list;
`bots` training and serving a bot (both Rasa servers start through `tools.serve`); `ours` this
assistant's action server and endpoints; `starter` the `rasa init` bot; `measure` latency,
throughput and a long conversation; `memory` resident memory from /proc; `report` the table, the
targets and the JSON; `nlu_floor` the NLU against its floor; `profile` where a turn's time goes
(`make profile`, not part of `make bench`).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
