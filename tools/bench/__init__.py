"""Benchmark this assistant against the starter bot `rasa init --no-prompt` creates.

In one run, on the same machine, for each bot: training time, time to ready (process start ->
first answer over REST), resident memory of the Rasa server's process tree after warm-up,
sequential latency (p50/p95/p99) and throughput under concurrent simulated users. Messages are
the held-out NLU sets (English and Chinese) in a fixed seeded order, the same list for both bots.
Prints a side-by-side table and writes JSON to <out>/bench-<UTC timestamp>.json and
<out>/latest.json. It reports figures; it never fails on them.

Run with the project's venv (`make bench`, or `.venv/bin/python -m tools.bench --help`).

Modules: `__main__` the command line and the order of the steps; `messages` the message list;
`bots` training and serving a bot (both Rasa servers start through `tools.serve`); `ours` this
assistant's action server and endpoints; `starter` the `rasa init` bot; `measure` latency and
throughput; `memory` resident memory from /proc; `report` the table and the JSON.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
