"""Start and stop local server processes: the benchmark's and the tests' one copy.

Every process `start` starts writes stdout and stderr to a log file and leads its own process
group, so `stop` also reaches what it forked (Sanic workers). `wait_until` polls an HTTP URL
and fails early, with the log's tail, when the process dies first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import weakref
from pathlib import Path
from typing import Callable, Dict, List

import requests

# Processes `start` started: each leads its own process group.
_GROUP_LEADERS: "weakref.WeakSet[subprocess.Popen]" = weakref.WeakSet()


class ProcessError(RuntimeError):
    """A process exited or did not become ready in time (the message carries its log's tail)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(log: Path, chars: int = 4000) -> str:
    """The last `chars` characters of a log file ('' when it cannot be read)."""
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""


def start(cmd: List[str], cwd: Path, env: Dict[str, str], log: Path) -> subprocess.Popen:
    """Start `cmd` in its own process group, stdout and stderr to `log` (overwritten), no stdin."""
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _GROUP_LEADERS.add(process)
    return process


def wait_for(
    ready: Callable[[], bool],
    process: subprocess.Popen,
    log: Path,
    timeout: float,
    what: str,
    interval: float = 0.1,
) -> None:
    """Call `ready` until it returns True; raise ProcessError with the log's tail when `process`
    exits first or `timeout` seconds pass. `ready` may raise requests or ValueError errors (= not yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ProcessError(f"{what} exited with {process.returncode}:\n{log_tail(log)}")
        with contextlib.suppress(requests.RequestException, ValueError):
            if ready():
                return
        time.sleep(interval)
    raise ProcessError(f"{what} not ready after {timeout:.0f}s:\n{log_tail(log)}")


def wait_until(url: str, process: subprocess.Popen, log: Path, timeout: float, interval: float = 0.1) -> None:
    """Poll GET `url` until it answers 200 (see `wait_for`)."""
    wait_for(lambda: requests.get(url, timeout=2).status_code == 200, process, log, timeout, url, interval)


def _signal(process: subprocess.Popen, signum: int) -> None:
    """`signum` to the process group of a process `start` started, else to the process alone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if process in _GROUP_LEADERS:
            os.killpg(process.pid, signum)  # also after the leader exited: its children may live on
        else:
            process.send_signal(signum)  # a no-op once the process was reaped


def stop(*processes: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM to every process (group), SIGKILL to what still runs after `grace` seconds
    (the groups are swept either way), and reap them all."""
    for process in processes:
        _signal(process, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        _signal(process, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        _GROUP_LEADERS.discard(process)
