"""Lay out Debian's WordNet 3.0 database (package `wordnet-base`) for nltk's WordNet reader.

`wordnet-base` installs the database files in /usr/share/wordnet but not `lexnames`, the
list of the 45 lexicographer files that nltk's reader loads first. This writes that list
(from WordNet 3.0's documentation, lexnames(5WN)) into `target` and links the database
files beside it, so components/lexical_normalizer.py reads WordNet with nltk without
downloading anything. Standard library only.

    python tools/build_wordnet.py build/wordnet [--source /usr/share/wordnet]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# lexnames(5WN): file number, name and syntactic category (1 noun, 2 verb, 3 adjective, 4 adverb).
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
DATABASE = [f"{kind}.{pos}" for kind in ("index", "data") for pos in ("noun", "verb", "adj", "adv")]
DATABASE += ["adj.exc", "adv.exc", "noun.exc", "verb.exc"]


def lexnames() -> str:
    return "".join(f"{n:02d}\t{name}\t{CATEGORY[name.split('.')[0]]}\n" for n, name in enumerate(LEXNAMES))


def build(target: Path, source: Path) -> int:
    """Link the database files of `source` into `target` and write `lexnames`; the number of files."""
    missing = [name for name in DATABASE if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"WordNet files missing in {source}: {', '.join(missing)} (apt-get install wordnet-base)"
        )
    target.mkdir(parents=True, exist_ok=True)
    for name in DATABASE:
        link = target / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to((source / name).resolve())
    (target / "lexnames").write_text(lexnames(), encoding="utf-8")
    return len(DATABASE) + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path)
    parser.add_argument("--source", type=Path, default=Path("/usr/share/wordnet"))
    args = parser.parse_args()
    try:
        count = build(args.target, args.source)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"WordNet laid out in {args.target}: {count} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
