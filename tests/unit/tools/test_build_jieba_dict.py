"""tools/build_jieba_dict.py: the smaller dictionary keeps jieba's most frequent words, in jieba's order."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Tuple

import jieba

from tools.build_jieba_dict import build


def test_the_most_frequent_words_are_kept_in_the_source_order(tmp_path: Path) -> None:
    source = Path(os.path.dirname(jieba.__file__)) / "dict.txt"
    entries = [line.split() for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    target = tmp_path / "jieba" / "dict.txt"
    assert build(target, 300) == 300
    kept = [line.split() for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(kept) == 300 and all(len(entry) == len(entries[0]) for entry in kept)
    first_at: Dict[Tuple[str, ...], int] = {}
    for n, entry in enumerate(entries):
        first_at.setdefault(tuple(entry), n)
    positions = [first_at[tuple(entry)] for entry in kept]
    assert positions == sorted(positions)  # jieba's own order, not sorted by frequency
    lowest_kept = min(int(entry[1]) for entry in kept)
    kept_at = set(positions)
    dropped = [entry for n, entry in enumerate(entries) if n not in kept_at]
    assert max(int(entry[1]) for entry in dropped) <= lowest_kept
    assert "的" in {entry[0] for entry in kept}  # the most frequent word of all
    assert build(tmp_path / "again.txt", 300) == 300
    assert (tmp_path / "again.txt").read_bytes() == target.read_bytes()  # deterministic
