"""Build the spaCy pipeline that config.yml's SpacyNLP loads by path.

Pretrained pipelines (en_core_web_*) can't be downloaded here, so this builds a
blank English pipeline with the lookup lemmatizer from spacy-lookups-data.
Usage: python tools/build_spacy_model.py build/spacy/en_lookup
"""

from __future__ import annotations

import sys
from pathlib import Path

import spacy


def build(target: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the lookup tables from spacy-lookups-data
    lemmas = [t.lemma_ for t in nlp("bounced emails were flagged")]
    if lemmas[0] != "bounce":
        raise SystemExit(f"lookup lemmatizer not working: {lemmas}")
    target.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(target)
    print(f"spaCy pipeline written to {target}: {nlp.pipe_names}, lemmas {lemmas}")


if __name__ == "__main__":
    build(Path(sys.argv[1] if len(sys.argv) > 1 else "build/spacy/en_lookup"))
