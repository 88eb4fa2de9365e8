"""The NLU training files as trainers' tools see them: which file holds which intent, the
examples already there, and appending one example to an intent's `examples: |` block by
editing the text (the rest of the file stays byte for byte as it was).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set

import yaml

# One definition of "the same sentence", language and entity markup for the whole trainer package.
from trainer.project import ANNOTATION, language_of, normalise, plain_text  # noqa: F401

ZH_DIR = "zh"


class NluFileError(Exception):
    """A training file can't be read or edited as expected."""


def example_lines(examples: Any) -> List[str]:
    """The examples of one NLU item: a `- ...` block string or a list of {text: ...}."""
    if isinstance(examples, str):
        return [line.strip()[2:].strip() for line in examples.splitlines() if line.strip().startswith("- ")]
    if isinstance(examples, list):
        return [str(e.get("text", "")) if isinstance(e, dict) else str(e) for e in examples]
    return []


@dataclass
class NluData:
    """Every intent example under a data directory, and the files holding each intent."""

    root: Path
    examples: Dict[str, str] = field(default_factory=dict)  # normalised text -> intent
    example_files: Dict[str, Path] = field(default_factory=dict)  # normalised text -> file
    holders: Dict[str, List[Path]] = field(default_factory=dict)  # intent -> files

    def add_file(self, path: Path, training: bool = True) -> None:
        for item in nlu_items(path):
            intent = str(item["intent"])
            if training and path not in self.holders.setdefault(intent, []):
                self.holders[intent].append(path)
            for example in example_lines(item.get("examples")):
                key = normalise(plain_text(example))
                self.examples.setdefault(key, intent)
                self.example_files.setdefault(key, path)

    def is_training(self, path: Path) -> bool:
        return self.root in path.parents

    def english_file(self, intent: str) -> Optional[Path]:
        """The file directly in the data directory that holds `intent`."""
        return next((p for p in self.holders.get(intent, []) if p.parent == self.root), None)

    def target_file(self, intent: str, language: str) -> Optional[Path]:
        """Where an example goes: Chinese to zh/<the English file's name> if it holds the intent
        (else another zh/ file holding it), otherwise the English file holding the intent."""
        english = self.english_file(intent)
        if language == "zh":
            chinese = [p for p in self.holders.get(intent, []) if p.parent == self.root / ZH_DIR]
            same_name = [p for p in chinese if english is not None and p.name == english.name]
            if same_name or chinese:
                return (same_name or chinese)[0]
        return english


def nlu_items(path: Path) -> List[Dict[str, Any]]:
    """The `- intent:` items of one training file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise NluFileError(f"{path}: can't be read as YAML: {error}") from error
    items = document.get("nlu") if isinstance(document, dict) else None
    return [i for i in items or [] if isinstance(i, dict) and i.get("intent")]


def yaml_files(folder: Path) -> List[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def load_nlu(data_dir: Path, extra_dirs: Iterable[Path] = ()) -> NluData:
    """Examples and intent holders under `data_dir`; examples (only) of `extra_dirs` too."""
    data = NluData(root=data_dir)
    for path in yaml_files(data_dir):
        data.add_file(path)
    for folder in extra_dirs:
        for path in yaml_files(folder) if folder.is_dir() else []:
            data.add_file(path, training=False)  # known examples, never a target
    return data


def domain_intents(domain_file: Path) -> List[str]:
    """The intent names listed in the domain file."""
    domain = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    names = []
    for entry in domain.get("intents") or []:
        names.append(next(iter(entry)) if isinstance(entry, dict) else str(entry))
    return names


def domain_entities(domain_file: Path) -> Set[str]:
    domain = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    return {next(iter(e)) if isinstance(e, dict) else str(e) for e in domain.get("entities") or []}


def valid_intents(domain_file: Path, data: NluData) -> List[str]:
    """Domain intents, with each retrieval intent (faq) replaced by its `faq/<key>` intents."""
    declared = domain_intents(domain_file)
    full_keys = sorted(i for i in data.holders if "/" in i and i.split("/", 1)[0] in declared)
    retrieval = {key.split("/", 1)[0] for key in full_keys}
    return [i for i in declared if i not in retrieval] + full_keys


# --- appending an example ------------------------------------------------------------------------
def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_blank(line: str) -> bool:
    return not line.strip()


def _intent_line(lines: List[str], intent: str) -> int:
    pattern = re.compile(r"^\s*(?:-\s+)?intent:\s*([\"']?)" + re.escape(intent) + r"\1\s*(?:#.*)?$")
    for number, line in enumerate(lines):
        if pattern.match(line.rstrip("\r\n")):
            return number
    raise NluFileError(f"no `intent: {intent}` line")


def _item_range(lines: List[str], intent_at: int) -> range:
    """The lines of the `- intent:` list item around line `intent_at`."""
    start = intent_at
    while not lines[start].lstrip().startswith("- "):
        start -= 1
        if start < 0:
            raise NluFileError("the intent is not inside a list item")
    dash = _indent(lines[start])
    end = start + 1
    while end < len(lines) and (_is_blank(lines[end]) or _indent(lines[end]) > dash):
        end += 1
    return range(start, end)


def _examples_block(lines: List[str], item: range) -> range:
    """The content lines of the item's `examples: |` literal block (may be empty)."""
    for number in item:
        text = lines[number].rstrip("\r\n")
        match = re.match(r"^(\s*)(?:-\s+)?examples:\s*(\S*)\s*(?:#.*)?$", text)
        if not match:
            continue
        if not match.group(2).startswith("|"):
            raise NluFileError("its examples are not a `examples: |` block")
        key_indent = text.index("examples")
        end = number + 1
        while end < len(lines) and (_is_blank(lines[end]) or _indent(lines[end]) > key_indent):
            end += 1
        return range(number + 1, end)
    raise NluFileError("the intent has no `examples:`")


def append_example(content: str, intent: str, example: str) -> str:
    """`content` with `- example` added at the end of `intent`'s examples block; nothing else changes."""
    lines = content.splitlines(keepends=True)
    newline = "\r\n" if "\r\n" in content else "\n"
    intent_at = _intent_line(lines, intent)
    block = _examples_block(lines, _item_range(lines, intent_at))
    filled = [n for n in block if not _is_blank(lines[n])]
    if filled:
        last, indent = filled[-1], _indent(lines[filled[0]])
    else:
        last, indent = block.start - 1, _indent(lines[intent_at]) + 4
    if not lines[last].endswith("\n"):
        lines[last] += newline
    lines.insert(last + 1, " " * indent + "- " + example + newline)
    return "".join(lines)


def check_example_added(content: str, path: Path, intent: str, example: str) -> None:
    """The edited file still parses and `intent` now has `example`."""
    try:
        document = yaml.safe_load(content)
    except yaml.YAMLError as error:
        raise NluFileError(f"{path}: adding {example!r} would break the YAML: {error}") from error
    for item in (document or {}).get("nlu") or []:
        if isinstance(item, dict) and item.get("intent") == intent and example in example_lines(item.get("examples")):
            return
    raise NluFileError(f"{path}: {example!r} did not end up in the examples of {intent}")


def write_atomically(path: Path, content: str) -> None:
    """Replace `path` by `content` in one step (a crash leaves the old or the new file)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
