"""tools/build_wordnet.py: Debian's WordNet files laid out for nltk's reader, with `lexnames`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.build_wordnet import DATABASE, build, lexnames


def test_lexnames_lists_the_45_lexicographer_files_in_order() -> None:
    lines = lexnames().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[3] == "03\tnoun.Tops\t1" and lines[-1] == "44\tadj.ppl\t3"


def test_the_database_is_linked_and_nltk_reads_it(tmp_path: Path) -> None:
    target = tmp_path / "wordnet"
    assert build(target, Path("/usr/share/wordnet")) == len(DATABASE) + 1
    assert build(target, Path("/usr/share/wordnet")) == len(DATABASE) + 1  # again: links replaced
    from components.lexical_normalizer import wordnet_reader

    names = [s.name() for s in wordnet_reader(str(target)).synsets("regain")]
    assert "recover.v.01" in names


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="apt-get install wordnet-base"):
        build(tmp_path / "wordnet", tmp_path)
