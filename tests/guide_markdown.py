"""A small parser for the troubleshooting guide's Markdown, used to check the knowledge file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple


@dataclass
class GuideProblem:
    number: int
    title: str
    symptoms: Dict[str, str] = field(default_factory=dict)
    root_cause: List[str] = field(default_factory=list)
    steps: List[Tuple[str, str]] = field(default_factory=list)  # (role, text)
    notes: List[str] = field(default_factory=list)
    verification: List[str] = field(default_factory=list)
    expected: Optional[str] = None


@dataclass
class Guide:
    index: List[Dict[str, str]]
    problems: List[GuideProblem]
    faqs: List[Tuple[str, str]]


def _section(lines: List[str], start: int) -> Tuple[List[str], int]:
    out = []
    i = start
    while i < len(lines) and not lines[i].startswith("#"):
        out.append(lines[i])
        i += 1
    return out, i


def parse_guide(path: Path) -> Guide:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()

    index = []
    header: List[str] = []
    for line in lines[lines.index("## Problem Index") :]:
        if line.startswith("## Problem Details"):
            break
        if line.startswith("|") and not set(line) <= set("|- "):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not header:
                header = cells
            else:
                index.append(dict(zip(header, cells)))

    problems: List[GuideProblem] = []
    current: Optional[GuideProblem] = None
    block = None
    role = "user"
    for line in lines:
        heading = re.match(r"^### Problem (\d+): (.+)$", line)
        if heading:
            current = GuideProblem(int(heading.group(1)), heading.group(2).strip())
            problems.append(current)
            block, role = None, "user"
            continue
        if line.startswith("## FAQ"):
            current = None
        if current is None:
            continue
        bold = re.match(r"^\*\*(Symptoms|Root Cause|Solution|Verification)\*\*$", line.strip())
        if bold:
            block = bold.group(1)
            continue
        stripped = line.strip()
        if block == "Solution":
            if re.match(r"^For \*\*postmasters\*\*:", stripped):
                role = "postmaster"
            elif re.match(r"^For \*\*regular users\*\*:", stripped):
                role = "user"
        step = re.match(r"^\d+\.\s+(.*)$", stripped)
        if block == "Solution" and step:
            current.steps.append((role, step.group(1).strip()))
        note = re.match(r"^> \*\*Note\*\*:\s*(.*)$", stripped)
        if note:
            current.notes.append(note.group(1).strip())
        bullet = re.match(r"^- (.*)$", stripped)
        if block == "Symptoms" and bullet:
            key, _, value = bullet.group(1).partition(":")
            current.symptoms[key.strip().lower().replace(" ", "_")] = value.strip()
        elif block == "Root Cause" and (bullet or re.match(r"^\s+- ", line)):
            current.root_cause.append(re.sub(r"^\s*- ", "", line).strip())
        elif block == "Verification" and bullet:
            item = bullet.group(1).strip()
            expected = re.match(r"^Expected (?:behavior|result): (.*)$", item)
            if expected:
                current.expected = expected.group(1).strip()
            else:
                current.verification.append(item)

    faq_text = text[text.index("## FAQ") :]
    faqs = [
        (q.strip(), a.strip())
        for q, a in re.findall(r"\*\*Q: (.+?)\*\*\s*\n\s*A: (.+?)(?=\n\s*\n|\Z)", faq_text, flags=re.S)
    ]
    return Guide(index=index, problems=problems, faqs=faqs)
