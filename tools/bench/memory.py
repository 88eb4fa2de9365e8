"""Resident memory of a process tree, read from /proc (Linux)."""

from __future__ import annotations

import os
import re
from typing import Dict, List, Optional


def parse_vmrss_kb(status_text: str) -> Optional[int]:
    """VmRSS in kB from the text of /proc/<pid>/status (None for a kernel thread or zombie)."""
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", status_text, re.MULTILINE)
    return int(match.group(1)) if match else None


def parse_ppid(stat_text: str) -> int:
    """The parent pid from /proc/<pid>/stat (the command name may hold spaces and parentheses)."""
    return int(stat_text[stat_text.rindex(")") + 2 :].split()[1])


def read_proc(path: str) -> Optional[str]:
    """The text of a /proc file, None when it cannot be read (the process is gone)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def process_tree(pid: int) -> List[int]:
    """`pid` and all its descendants, found through the ppid of every /proc/<n>/stat."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        stat = read_proc(f"/proc/{entry}/stat") if entry.isdigit() else None
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
    sizes = [parse_vmrss_kb(read_proc(f"/proc/{p}/status") or "") for p in process_tree(pid)]
    known = [s for s in sizes if s is not None]
    return round(sum(known) / 1024, 1) if known else None
