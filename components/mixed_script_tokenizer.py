"""One tokenizer for English and Chinese: spaCy's tokens, with Chinese runs segmented by jieba.

spaCy's English tokenizer splits on spaces and punctuation, so a Chinese sentence
(no spaces) stays one token. Every token holding a CJK character is cut again by
jieba into words, with their character offsets kept, so the featurizers see
words in both languages and an error code inside Chinese text (`收到ESO_LOCAL_SPAM退信`)
becomes its own tokens.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

from actions.language import has_cjk


def _jieba():
    import jieba  # imported lazily: loading its dictionary takes about a second

    return jieba


def segment(text: str, offset: int = 0) -> List[Token]:
    """jieba's words of `text` as Rasa tokens at `offset`, without whitespace tokens."""
    return [Token(word, offset + start, lemma=word.lower())
            for word, start, _end in _jieba().tokenize(text, HMM=True) if word.strip()]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MixedScriptTokenizer(SpacyTokenizer):
    """SpacyTokenizer that also segments Chinese with jieba (config: `user_words`)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        config = SpacyTokenizer.get_default_config()
        # Domain words jieba should keep whole (验证码, 退信 ...); listed in config.yml.
        config["user_words"] = []
        return config

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy", "jieba"]

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        words = self._config.get("user_words") or []
        if words:
            jieba = _jieba()
            for word in words:
                jieba.add_word(str(word))

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """spaCy's tokens; any token with Chinese characters replaced by its jieba words."""
        tokens: List[Token] = []
        for token in super().tokenize(message, attribute):
            if has_cjk(token.text):
                tokens.extend(segment(token.text, token.start))
            else:
                tokens.append(token)
        return tokens
