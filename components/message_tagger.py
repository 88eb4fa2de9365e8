"""What the two tagging components share: nothing to train, one entity added to each message they tag
(components/language_detector.py, components/chat_detector.py)."""

from __future__ import annotations

from typing import Any, Dict, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message


class MessageTagger(GraphComponent):
    """A component without training or config that tags messages with entities of its own."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "MessageTagger":
        return cls()

    def tag(self, message: Message, entity: Text, value: Any, end: int) -> None:
        """Add `{"entity": entity, "value": value}` over characters 0..`end`, in the output too."""
        found = {"entity": entity, "value": value, "start": 0, "end": end, "extractor": self.__class__.__name__}
        message.set(ENTITIES, (message.get(ENTITIES) or []) + [found], add_to_output=True)
