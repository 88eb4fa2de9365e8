"""`python -m tools.serve` in a fresh process refuses an untested Rasa before starting anything."""

from __future__ import annotations

import subprocess
import sys


def test_serve_refuses_to_start_on_an_untested_rasa() -> None:
    """The entry point exits 1 with the reason, before Rasa parses any argument."""
    code = (
        "import rasa, sys; rasa.__version__ = '9.9.9'; sys.argv = ['serve', 'run']; "
        "from tools import serve; serve.main()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Not starting: Rasa 9.9.9 is installed" in result.stderr
