"""Print a hash of everything a trained model depends on.

The Makefile names the model `models/<hash>.tar.gz` and trains only when no
model with that name exists, so a change to data, domain, config, the spaCy
build, the custom NLU components or the pinned packages always retrains, and nothing else does.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ["config.yml", "domain.yml", "requirements.txt", "scripts/build_spacy_model.py",
          "scripts/build_jieba_dict.py"]
INPUT_DIRS = ["data", "components"]


def model_hash(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    files = [root / name for name in INPUTS]
    for folder in INPUT_DIRS:
        files += sorted(p for p in (root / folder).rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


if __name__ == "__main__":
    print(model_hash(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT))
