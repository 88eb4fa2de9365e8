"""Local server processes (tools/processes.py): a real `python -m http.server` on a free port,
a process that dies early, and stopping a whole process group."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from tools import processes


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_free_port_is_free():
    port = processes.free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # nothing holds it


def test_http_server_starts_answers_and_stops(tmp_path):
    (tmp_path / "hello.txt").write_text("hello")
    port = processes.free_port()
    log = tmp_path / "server.log"
    server = processes.start(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], tmp_path, dict(os.environ), log
    )
    try:
        assert os.getpgid(server.pid) == server.pid  # its own process group
        processes.wait_until(f"http://127.0.0.1:{port}/hello.txt", server, log, 30)
        assert requests.get(f"http://127.0.0.1:{port}/hello.txt", timeout=5).text == "hello"
    finally:
        processes.stop(server, grace=10)
    assert server.returncode is not None
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/hello.txt", timeout=5)
    assert "GET /hello.txt" in log.read_text()


def test_a_process_that_dies_early_fails_fast_with_its_log(tmp_path):
    log = tmp_path / "dies.log"
    code = "import sys; print('cannot bind: port in use', flush=True); sys.exit(4)"
    process = processes.start([sys.executable, "-c", code], tmp_path, dict(os.environ), log)
    started = time.monotonic()
    with pytest.raises(processes.ProcessError, match=r"exited with 4:\ncannot bind: port in use"):
        processes.wait_until(f"http://127.0.0.1:{processes.free_port()}/", process, log, 60)
    assert time.monotonic() - started < 30
    processes.stop(process)


def test_a_process_that_never_answers_times_out_with_its_log(tmp_path):
    log = tmp_path / "silent.log"
    code = "import time; print('still loading', flush=True); time.sleep(60)"
    process = processes.start([sys.executable, "-c", code], tmp_path, dict(os.environ), log)
    try:
        with pytest.raises(processes.ProcessError, match=r"not ready after 1s:\nstill loading"):
            processes.wait_until(f"http://127.0.0.1:{processes.free_port()}/", process, log, 1.0)
        assert process.poll() is None
    finally:
        processes.stop(process)
    assert process.returncode is not None


def test_wait_for_takes_any_readiness_check(tmp_path):
    process = processes.start([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path, {}, tmp_path / "l")
    calls = []

    def ready() -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise requests.ConnectionError("not yet")
        return len(calls) >= 3

    try:
        processes.wait_for(ready, process, tmp_path / "l", 10, "worker", interval=0.01)
    finally:
        processes.stop(process)
    assert len(calls) == 3


def test_stop_reaches_the_whole_group_and_kills_what_ignores_sigterm(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    code = (
        "import subprocess, sys, time; "
        f"child = subprocess.Popen([sys.executable, '-c', {stubborn!r}]); "
        f"open({str(pid_file)!r}, 'w').write(str(child.pid)); time.sleep(60)"
    )
    parent = processes.start([sys.executable, "-c", code], tmp_path, dict(os.environ), tmp_path / "group.log")
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    assert alive(grandchild) and os.getpgid(grandchild) == parent.pid
    started = time.monotonic()
    processes.stop(parent, grace=1)
    assert parent.returncode is not None
    deadline = time.monotonic() + 10
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)
    assert time.monotonic() - started < 10


def test_stop_of_a_process_it_did_not_start_signals_the_process_only(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    processes.stop(process, grace=5)
    assert process.returncode is not None
    processes.stop(process)  # already gone: nothing happens


def test_log_tail(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("a" * 10 + "the end")
    assert processes.log_tail(log, 7) == "the end"
    assert processes.log_tail(tmp_path / "missing.log") == ""
