"""One tokenizer for English and Chinese: spaCy's tokens, with Chinese runs segmented by jieba.

spaCy's English tokenizer splits on spaces and punctuation, so a Chinese sentence
(no spaces) stays one token. Every token holding a CJK character is cut again by
jieba into words, with their character offsets kept, so the featurizers see
words in both languages and an error code inside Chinese text (`收到ESO_LOCAL_SPAM退信`)
becomes its own tokens.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from core.language import has_cjk


def _jieba():
    import jieba  # imported lazily: loading its dictionary takes about a second

    return jieba


def segment(text: str, offset: int = 0) -> List[Token]:
    """jieba's words of `text` as Rasa tokens at `offset`, without whitespace tokens."""
    return [
        Token(word, offset + start, lemma=word.lower())
        for word, start, _end in _jieba().tokenize(text, HMM=True)
        if word.strip()
    ]


def configure_jieba(config: Dict[Text, Any]) -> None:
    """jieba's dictionary (`dictionary`: a smaller one saves memory) and the words it must
    keep whole (`user_words`: 验证码, 退信 ...), from the component's config."""
    jieba = _jieba()
    if config.get("dictionary"):
        path = os.path.abspath(str(config["dictionary"]))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"jieba dictionary {path} is missing: run `make jieba-dict`")
        if jieba.dt.dictionary != path:
            jieba.set_dictionary(path)
    for word in config.get("user_words") or []:
        jieba.add_word(str(word))


def split_chinese(tokens: List[Token]) -> List[Token]:
    """The tokens, with every token holding Chinese characters replaced by its jieba words."""
    result: List[Token] = []
    for token in tokens:
        if has_cjk(token.text):
            result.extend(segment(token.text, token.start))
        else:
            result.append(token)
    return result


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MixedScriptTokenizer(SpacyTokenizer):
    """SpacyTokenizer that also segments Chinese with jieba (config: `user_words`)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**SpacyTokenizer.get_default_config(), "user_words": [], "dictionary": None}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy", "jieba"]

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        configure_jieba(self._config)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """spaCy's tokens; any token with Chinese characters replaced by its jieba words."""
        return split_chinese(super().tokenize(message, attribute))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MixedScriptWhitespaceTokenizer(WhitespaceTokenizer):
    """Rasa's WhitespaceTokenizer with Chinese segmented by jieba: no spaCy model to load."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**WhitespaceTokenizer.get_default_config(), "user_words": [], "dictionary": None}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["jieba"]

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        configure_jieba(self._config)

    def remove_emoji(self, text: Text) -> Text:
        """Rasa's emoji pattern spans U+24C2-U+1F251, all of CJK: it would drop every Chinese word
        between spaces (`hello 收不到验证码 please`). A word with Chinese characters is kept."""
        return text if has_cjk(text) else super().remove_emoji(text)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Whitespace tokens; any token with Chinese characters replaced by its jieba words."""
        return split_chinese(super().tokenize(message, attribute))
