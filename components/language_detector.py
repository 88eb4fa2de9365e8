"""Tag each message with the language it is written in, as the entity `message_language`.

Done in the NLU pipeline (not by an action) so that the `language` slot is set by a
plain from_entity mapping before the bot answers, without a call to the action
server on every message. A message that says nothing about its language (a code,
an id, an address, emoji, a button) gets no tag and keeps the conversation's
language (actions/language.py has the rule).
"""

from __future__ import annotations

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from components.message_tagger import MessageTagger
from core.language import detect_language

ENTITY = "message_language"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetector(MessageTagger):
    """Adds `{"entity": "message_language", "value": "en"|"zh"}` when the text shows its language."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            language = detect_language(text)
            if language:
                self.tag(message, ENTITY, language, len(text))
        return messages
