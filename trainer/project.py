"""Read the project's training files with line numbers, without loading Rasa.

The data check and the scaffold both need to know which intents, examples,
rules, responses and actions exist, and on which line: this module reads the
YAML files once into plain records (`Project`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import yaml

from core.language import CHINESE, ENGLISH, has_cjk
from core.settings import get_settings

# Rasa's entity annotations: [text](entity), [text](entity:value), [text]{...}, [text][...].
ANNOTATION = re.compile(r"\[([^\]]+?)\](?:\(([^)]*)\)|\{[^}]*\}|\[[^\]]*\])")
_HELDOUT_FILE = re.compile(r"heldout(?:_([a-z]{2}))?\.yml$")
# Paraphrase sets (issue 14): like the held-out sets, test data only, one file per language.
_PARAPHRASE_FILE = re.compile(r"paraphrase(?:_([a-z]{2}))?\.yml$")


class LineDict(dict):
    """A YAML mapping that remembers the (1-based) line it starts on."""

    line: int = 0


class _LineLoader(yaml.SafeLoader):
    pass


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    mapping = LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def load_yaml(path: Path) -> Any:
    """Parse a YAML file; mappings are `LineDict`s that know their line."""
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_LineLoader)  # safe: _LineLoader is a SafeLoader subclass


def plain_text(example: str) -> str:
    """An NLU example without its entity markup."""
    return ANNOTATION.sub(lambda m: m.group(1), example).strip()


def normalise(text: str) -> str:
    """Lower case, without punctuation, symbols or spaces: near-duplicates compare equal."""
    return "".join(
        ch for ch in unicodedata.normalize("NFKC", plain_text(text)).lower() if unicodedata.category(ch)[0] in "LN"
    )


def language_of(text: str) -> str:
    """The language an example is written in: `zh` with any Chinese character, else `en`."""
    return CHINESE if has_cjk(text) else ENGLISH


def relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Example:
    """One NLU example (training or held-out) and where it is written."""

    intent: str
    text: str
    path: str
    line: int

    @property
    def language(self) -> str:
        return language_of(self.text)

    @property
    def key(self) -> str:
        return normalise(self.text)


@dataclass(frozen=True)
class Step:
    """One step of a rule or story (intent, action or active loop) and its line."""

    kind: str
    name: Optional[str]
    path: str
    line: int
    story: str


@dataclass
class Project:
    """Everything the data check looks at, read from one project folder."""

    root: Path
    intents: Dict[str, int] = field(default_factory=dict)
    responses: Dict[str, int] = field(default_factory=dict)
    actions: Dict[str, int] = field(default_factory=dict)
    forms: Dict[str, int] = field(default_factory=dict)
    training: List[Example] = field(default_factory=list)
    heldout: Dict[str, List[Example]] = field(default_factory=dict)
    paraphrase: Dict[str, List[Example]] = field(default_factory=dict)
    rules: List[Step] = field(default_factory=list)
    test_steps: List[Step] = field(default_factory=list)
    knowledge: Any = None

    @property
    def domain_path(self) -> str:
        return "domain.yml"

    @property
    def knowledge_path(self) -> str:
        return str(get_settings().knowledge_file)


def nlu_examples(path: Path, root: Path) -> Iterator[Example]:
    """The intent examples of one NLU file, each with its own line number."""
    data = load_yaml(path) or {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for item in data.get("nlu") or []:
        if not isinstance(item, LineDict) or "intent" not in item:
            continue
        block_line = next((n for n in range(item.line - 1, len(lines)) if "examples:" in lines[n]), item.line - 1)
        for offset, raw in enumerate(str(item.get("examples") or "").splitlines(), start=1):
            stripped = raw.strip()
            if stripped.startswith("- "):
                text = stripped[2:].strip()
                if len(text) >= 2 and text[0] == text[-1] == '"':
                    text = text[1:-1]
                yield Example(
                    intent=str(item["intent"]),
                    text=plain_text(text),
                    path=relative(path, root),
                    line=block_line + 1 + offset,
                )


def _story_steps(path: Path, root: Path, section: str) -> Iterator[Step]:
    data = load_yaml(path) or {}
    for story in data.get(section) or []:
        title = story.get("rule") or story.get("story") or "?"
        for step in list(story.get("condition") or []) + list(story.get("steps") or []):
            if not isinstance(step, LineDict):
                continue
            for kind in ("intent", "action", "active_loop"):
                if kind in step:
                    yield Step(kind=kind, name=step[kind], path=relative(path, root), line=step.line, story=title)


def _names_with_lines(items: Any, fallback_line: int) -> Dict[str, int]:
    names: Dict[str, int] = {}
    for item in items or []:
        if isinstance(item, dict):
            for name in item:
                names[str(name)] = getattr(item, "line", fallback_line)
        else:
            names[str(item)] = fallback_line
    return names


def _section_lines(path: Path, section: str, entry: str) -> Dict[str, int]:
    """Line of each entry (regex `entry`, group 1 = the name) directly under a top-level `section:`."""
    found: Dict[str, int] = {}
    inside = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if re.match(rf"^{section}:\s*$", line):
            inside = True
            continue
        if inside and re.match(r"^\S", line):
            break
        match = re.match(entry, line) if inside else None
        if match:
            found.setdefault(match.group(1), number)
    return found


def _list_lines(path: Path, section: str) -> Dict[str, int]:
    """Line of each `- name` entry under a top-level list such as `intents:`."""
    return _section_lines(path, section, r"^\s+-\s+([^\s:#{]+)")


def _key_lines(path: Path, section: str, names: set) -> Dict[str, int]:
    """Line of each `  name:` key directly under a top-level `section:`."""
    return {name: line for name, line in _section_lines(path, section, r"^  ([^\s:#]+):").items() if name in names}


def read_project(root: Path) -> Project:
    """Read domain, NLU data, held-out and paraphrase sets, rules, stories, test conversations and knowledge."""
    project = Project(root=root)
    domain_path = root / "domain.yml"
    domain = load_yaml(domain_path) or {}
    project.intents = _list_lines(domain_path, "intents") or _names_with_lines(domain.get("intents"), 1)
    project.actions = _list_lines(domain_path, "actions")
    responses = domain.get("responses") or LineDict()
    project.responses = {name: responses.line for name in responses}
    project.responses.update(_key_lines(domain_path, "responses", set(responses)))
    forms = domain.get("forms") or {}
    project.forms = {name: getattr(forms, "line", 1) for name in forms}
    for path in sorted((root / "data").rglob("*.yml")):
        data = load_yaml(path) or {}
        if "nlu" in data:
            project.training.extend(nlu_examples(path, root))
        if "responses" in data:
            block = data["responses"] or LineDict()
            project.responses.update({name: block.line for name in block})
            project.responses.update(_key_lines(path, "responses", set(block)))
        if "rules" in data:
            project.rules.extend(_story_steps(path, root, "rules"))
        if "stories" in data:
            project.rules.extend(_story_steps(path, root, "stories"))
    for path in sorted((root / "tests" / "nlu").glob("heldout*.yml")):
        match = _HELDOUT_FILE.search(path.name)
        if match:
            project.heldout[match.group(1) or "en"] = list(nlu_examples(path, root))
    for path in sorted((root / "tests" / "nlu").glob("paraphrase*.yml")):
        match = _PARAPHRASE_FILE.search(path.name)
        if match:
            project.paraphrase[match.group(1) or "en"] = list(nlu_examples(path, root))
    for path in sorted((root / "tests" / "stories").glob("*.yml")):
        project.test_steps.extend(_story_steps(path, root, "stories"))
    knowledge_path = get_settings().knowledge_path(root)
    project.knowledge = load_yaml(knowledge_path)
    return project
