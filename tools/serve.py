"""The project's one way to start Rasa: check the version, apply the patches, run Rasa's CLI.

    python -m tools.serve run --model models/X.tar.gz --endpoints endpoints.yml ...
    python -m tools.serve shell --model ...

Arguments are Rasa's own (`rasa --help`). `make run`, the tests, the benchmark and the
containers start Rasa through here, so every Rasa process runs with `tools.rasa_patches`,
and none starts on a Rasa version the patches were not tested with (exit 1, with the reason).
"""

from __future__ import annotations

import sys
from typing import List, Optional

from tools import rasa_patches


def main(argv: Optional[List[str]] = None) -> None:
    """Apply the patches and hand `argv` (default: the command line) to Rasa's CLI."""
    args = sys.argv[1:] if argv is None else argv
    try:
        rasa_patches.apply()
    except rasa_patches.UntestedRasaVersion as error:
        sys.exit(f"Not starting: {error}")
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *args]
    rasa_main()


if __name__ == "__main__":
    main()
