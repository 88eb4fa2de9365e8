"""Run a script in a fresh Python interpreter (this venv's), for what one process's imports decide:
which modules a patched Rasa process loads, what a loader imports."""

from __future__ import annotations

import subprocess
import sys
from typing import List

TIMEOUT = 240.0  # importing Rasa takes seconds; a hang fails the test


def printed_lines(script: str, timeout: float = TIMEOUT) -> List[str]:
    """The lines `script` printed; the test fails with the end of its stderr when it exits non-zero."""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()
