"""Print a hash of everything a trained model depends on.

    python3 -m trainer.model_hash [PROJECT_ROOT]

The Makefile names the model `models/<hash>.tar.gz` and trains only when no model with that
name exists, so a change to data, domain, config, the spaCy and jieba builds, the pinned
packages or any project module the NLU pipeline imports always retrains, and nothing else does.

The modules are derived, not listed: every project class that config.yml names (the custom
components), then every project module those import, followed transitively through their
`import` statements. Standard library only: the Makefile runs this before the venv exists.
"""

from __future__ import annotations

import ast
import hashlib
import re
import sys
from pathlib import Path
from typing import Iterable, List, Set

ROOT = Path(__file__).resolve().parent.parent
INPUTS = [
    "config.yml",
    "domain.yml",
    "requirements.txt",
    "tools/build_spacy_model.py",
    "tools/build_jieba_dict.py",
    "tools/build_wordnet.py",
]
INPUT_DIRS = ["data"]
# A `name:` in config.yml that is a dotted path (`components.faq_selector.FaqSelector`).
_CONFIG_NAME = re.compile(r"^\s*-?\s*name:\s*[\"']?([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+)", re.MULTILINE)


def _module_file(root: Path, module: str) -> Path | None:
    """The file of a project module, or None when it is not the project's (rasa, stdlib, ...)."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> Iterable[str]:
    """Every module name `path` imports, relative imports resolved; `a.b` also yields `a.b.name`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def pipeline_modules(root: Path = ROOT) -> List[Path]:
    """The project's Python files that loading the pipeline of config.yml imports, sorted."""
    config = (root / "config.yml").read_text(encoding="utf-8")
    pending = [name.rpartition(".")[0] for name in _CONFIG_NAME.findall(config)]
    seen: Set[str] = set()
    files: Set[Path] = set()
    while pending:
        module = pending.pop()
        if module in seen or not module:
            continue
        seen.add(module)
        path = _module_file(root, module)
        if path is None:
            continue
        files.add(path)
        # Importing a.b.c first runs a/__init__.py and a/b/__init__.py, and whatever they import.
        parts = module.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        pending.extend(_imports(path, module))
    return sorted(files)


def model_hash(root: Path = ROOT) -> str:
    """The first 16 hex digits of a SHA-256 over every input's path and content."""
    digest = hashlib.sha256()
    files = [root / name for name in INPUTS]
    for folder in INPUT_DIRS:
        files += sorted(p for p in (root / folder).rglob("*") if p.is_file())
    files += pipeline_modules(root)
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


if __name__ == "__main__":
    print(model_hash(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT))
