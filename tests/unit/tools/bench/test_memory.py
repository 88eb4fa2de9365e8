"""Resident memory read from /proc (tools/bench/memory.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tools.bench import memory


def test_parse_vmrss_and_ppid_on_this_process():
    with open(f"/proc/{os.getpid()}/status") as handle:
        status = handle.read()
    with open(f"/proc/{os.getpid()}/stat") as handle:
        stat = handle.read()
    vmrss = memory.parse_vmrss_kb(status)
    assert vmrss is not None and vmrss > 1000
    assert memory.parse_ppid(stat) == os.getppid()
    assert memory.parse_vmrss_kb("Name:\tkthreadd\nState:\tS\n") is None
    assert memory.parse_ppid("42 (a (weird) name) S 7 42 42 0") == 7


def test_read_proc_of_a_missing_file_is_none():
    assert memory.read_proc("/proc/no-such-entry") is None


def test_tree_rss_counts_children():
    own = memory.tree_rss_mb(os.getpid())
    assert own is not None
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; x = bytearray(50 * 2**20); time.sleep(30)"], stdout=subprocess.PIPE
    )
    try:
        for _ in range(100):  # until the child has touched its 50 MB
            if (memory.tree_rss_mb(child.pid) or 0) > 50:
                break
            time.sleep(0.1)
        assert child.pid in memory.process_tree(os.getpid())
        assert memory.process_tree(child.pid) == [child.pid]
        assert (memory.tree_rss_mb(os.getpid()) or 0) >= own + 40
    finally:
        child.kill()
        child.wait()
    assert memory.tree_rss_mb(child.pid) is None
