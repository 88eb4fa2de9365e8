"""Map English words the training data never uses onto words it does: typos and WordNet synonyms.

The linear classifier only knows the words of its training data. A word it has never seen
adds nothing but its character n-grams, so "regain", "mislay" or "pasword" say little.
This component, placed after the tokenizer, rewrites the lemma of such a word (the featurizers
read lemmas) to a training word, so the word's learnt weights apply:

- a **typo** (a word neither the training data nor an English dictionary knows) becomes the
  most frequent training word one character edit away (`pasword` → `password`,
  `verfication` → `verification`); the dictionary is pyspellchecker's English word list,
  shipped inside that package, plus WordNet's lemmas;
- a **synonym**, a real word the training data lacks, becomes a training word that shares one
  of its main WordNet senses (`regain` → `recover`, `somebody` → `someone`): both words must
  have that sense among their first `wordnet_senses` senses, which keeps rare senses out.

Both tables are built when the model trains (WordNet is read from Debian's `wordnet-base`
files with nltk's reader, see `make wordnet`) and stored in the model: the server loads two
small maps, neither nltk nor the dictionary. Words the training data knows, Chinese text, digits
and codes are never touched.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

WORD = re.compile(r"^[a-z]+$")
TABLES_FILE = "lexical_normalizer.json"
MAX_CACHED = 20_000


def deletions(word: str) -> Iterator[str]:
    """`word` with one character left out, at every position."""
    return (word[:i] + word[i + 1 :] for i in range(len(word)))


class TypoIndex:
    """Training words found within one character edit (insertion, deletion, substitution or
    swap of neighbours), by SymSpell's deletion neighbourhood; the most frequent word wins."""

    def __init__(self, vocabulary: Dict[str, int], min_length: int) -> None:
        self.min_length = min_length
        self.vocabulary = vocabulary
        self.by_deletion: Dict[str, List[str]] = {}
        for word in vocabulary:
            if len(word) >= min_length:
                for variant in set(deletions(word)):
                    self.by_deletion.setdefault(variant, []).append(word)

    def correction(self, word: str) -> Optional[str]:
        """The training word one edit from `word`, or None (words shorter than `min_length`: None)."""
        if len(word) < self.min_length:
            return None
        found: Set[str] = set(self.by_deletion.get(word, []))  # `word` lost one character
        for variant in set(deletions(word)):
            if variant in self.vocabulary and len(variant) >= self.min_length:
                found.add(variant)  # `word` has one character too many
            found.update(self.by_deletion.get(variant, []))  # one substituted or two swapped
        found.discard(word)
        if not found:
            return None
        return min(found, key=lambda w: (-self.vocabulary[w], w))


def wordnet_reader(path: str) -> Any:
    """nltk's WordNet reader on the WordNet 3.0 database files in `path` (English only)."""
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class EnglishWordNet(WordNetCorpusReader):
        # nltk maps synsets to the Open Multilingual Wordnet's copy of WordNet, which it would
        # download; for English lookups in WordNet 3.0 itself no mapping is needed.
        def map_wn(self, version: str = "wordnet") -> None:
            return None

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": not used
        return EnglishWordNet(os.path.abspath(path), None)


def wordnet_synonyms(wordnet: Any, vocabulary: Dict[str, int], senses: int) -> Dict[str, str]:
    """Each single-word WordNet lemma the vocabulary lacks → the vocabulary word it shares a main
    sense with (a sense among the first `senses` of both words, per part of speech)."""
    best: Dict[str, tuple] = {}
    for word, count in vocabulary.items():
        for pos in ("n", "v", "a", "r"):
            for rank, synset in enumerate(wordnet.synsets(word, pos)[:senses]):
                for name in synset.lemma_names():
                    other = name.lower()
                    if other in vocabulary or not WORD.match(other):
                        continue
                    other_senses = wordnet.synsets(other, pos)[:senses]
                    if synset not in other_senses:
                        continue
                    score = (rank + other_senses.index(synset), -count, word)
                    if other not in best or score < best[other][0]:
                        best[other] = (score, word)
    return {other: word for other, (_score, word) in sorted(best.items())}


def wordnet_derivations(wordnet: Any, vocabulary: Dict[str, int], senses: int) -> Dict[str, str]:
    """Each single-word WordNet lemma the vocabulary lacks → the vocabulary word it is derived
    from or to, in one of the word's main senses ("verify" → "verification", "recovery" → "recover")."""
    best: Dict[str, tuple] = {}
    for word, count in vocabulary.items():
        for pos in ("n", "v", "a", "r"):
            for rank, synset in enumerate(wordnet.synsets(word, pos)[:senses]):
                for lemma in synset.lemmas():
                    if lemma.name().lower() != word:
                        continue
                    for related in lemma.derivationally_related_forms():
                        other = related.name().lower()
                        if other in vocabulary or not WORD.match(other):
                            continue
                        score = (rank, -count, word)
                        if other not in best or score < best[other][0]:
                            best[other] = (score, word)
    return {other: word for other, (_score, word) in sorted(best.items())}


def dictionary_words(wordnet: Any = None) -> Set[str]:
    """English words that are not typos: pyspellchecker's English list, plus WordNet's lemmas."""
    from spellchecker import SpellChecker

    words = {w for w in SpellChecker(language="en", distance=1).word_frequency.keys() if WORD.match(w)}
    if wordnet is not None:
        words.update(n.lower() for n in wordnet.all_lemma_names() if WORD.match(n.lower()))
    return words


def vocabulary_of(messages: Iterable[Message]) -> Dict[str, int]:
    """How often each lower-case Latin-letter lemma occurs in the messages' text tokens."""
    counts: Counter = Counter()
    for message in messages:
        for token in message.get(TOKENS_NAMES[TEXT]) or []:
            lemma = (token.lemma or token.text).lower()
            if WORD.match(lemma):
                counts[lemma] += 1
    return dict(counts)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class LexicalNormalizer(GraphComponent):
    """Rewrite the lemma of an unseen English word to a training word (typo or WordNet synonym).

    Config: `wordnet` (folder of the WordNet database, or null: no synonyms), `wordnet_senses`,
    `wordnet_derivations` (also map derived forms: "verify" → "verification"), `spelling`
    (correct typos), `min_word_length` (shorter words are never corrected)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "wordnet": None,
            "wordnet_senses": 2,
            "wordnet_derivations": False,
            "spelling": True,
            "min_word_length": 4,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        # Rasa imports these by name and fingerprints their distributions by the same name, which
        # pyspellchecker (imported as `spellchecker`) does not match: it is imported in train() only.
        return ["nltk"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: Optional[Dict[str, int]] = None,
        synonyms: Optional[Dict[str, str]] = None,
        known: Optional[Set[str]] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._set_tables(vocabulary or {}, synonyms or {}, known or set())

    def _set_tables(self, vocabulary: Dict[str, int], synonyms: Dict[str, str], known: Set[str]) -> None:
        self.vocabulary = vocabulary
        self.synonyms = synonyms
        # Real words one edit from a training word: never "corrected" (`bank` is not `back`).
        self.known = known
        self.typos = TypoIndex(vocabulary, int(self.config["min_word_length"]))
        self.cache: Dict[str, Optional[str]] = {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LexicalNormalizer":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Learn the vocabulary, build the synonym and typo tables, store them in the model."""
        vocabulary = vocabulary_of(training_data.training_examples)
        wordnet = wordnet_reader(self.config["wordnet"]) if self.config.get("wordnet") else None
        synonyms: Dict[str, str] = {}
        if wordnet is not None:
            senses = int(self.config["wordnet_senses"])
            if self.config.get("wordnet_derivations"):
                synonyms.update(wordnet_derivations(wordnet, vocabulary, senses))
            synonyms.update(wordnet_synonyms(wordnet, vocabulary, senses))  # a synonym wins over a derivation
        known: Set[str] = set()
        if self.config.get("spelling"):
            typos = TypoIndex(vocabulary, int(self.config["min_word_length"]))
            known = {w for w in dictionary_words(wordnet) if w not in vocabulary and typos.correction(w)}
        logger.info(
            "Lexical normalizer: %d training words, %d WordNet synonyms, %d real words near them",
            len(vocabulary),
            len(synonyms),
            len(known),
        )
        with self._model_storage.write_to(self._resource) as directory:
            tables = {"vocabulary": vocabulary, "synonyms": synonyms, "known": sorted(known)}
            (directory / TABLES_FILE).write_text(json.dumps(tables, ensure_ascii=False), encoding="utf-8")
        self._set_tables(vocabulary, synonyms, known)
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "LexicalNormalizer":
        try:
            with model_storage.read_from(resource) as directory:
                tables = json.loads((directory / TABLES_FILE).read_text(encoding="utf-8"))
        except ValueError:  # nothing was trained (no training data): rewrite nothing
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, tables["vocabulary"], tables["synonyms"], set(tables["known"]))

    def normal_form(self, word: str) -> Optional[str]:
        """The training word `word` (a lower-case lemma) stands for, or None to keep it."""
        if word in self.vocabulary or not WORD.match(word):
            return None
        if word not in self.cache:
            if len(self.cache) >= MAX_CACHED:  # every distinct word a user types: keep it bounded
                self.cache.clear()
            found = self.synonyms.get(word)
            if found is None and self.config.get("spelling") and word not in self.known:
                found = self.typos.correction(word)
            self.cache[word] = found
        return self.cache[word]

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            for token in message.get(TOKENS_NAMES[TEXT]) or []:
                found = self.normal_form((token.lemma or token.text).lower())
                if found is not None:
                    token.lemma = found
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Every training word is in the vocabulary, so training examples stay as they are.
        return training_data
