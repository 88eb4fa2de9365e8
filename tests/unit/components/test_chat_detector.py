"""components/chat_detector.py: the `chat` entity on every message, from the metadata the channel verified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, METADATA, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.chat_detector import ChatDetector


@pytest.fixture
def detector(tmp_path: Path) -> ChatDetector:
    return ChatDetector.create(
        {}, LocalModelStorage(tmp_path), Resource("chat"), ExecutionContext(GraphSchema({}), "t")
    )


@pytest.mark.parametrize(
    "metadata, kind",
    [
        (None, "direct"),  # REST: the channel drops what a client sends
        ({}, "direct"),
        ({"chat_type": "direct", "dm_available": True}, "direct"),  # a Slack DM
        ({"chat_type": "group", "dm_available": True}, "group_dm"),  # a Slack channel
        ({"chat_type": "group", "dm_available": False}, "group"),  # a DingTalk group
        ({"chat_type": "group"}, "group"),  # nothing says a direct message can be sent
        ({"chat_type": "group", "dm_available": "yes"}, "group"),  # only True counts
        ("group", "direct"),  # not an object
    ],
)
def test_every_message_gets_the_kind_of_its_chat(detector: ChatDetector, metadata: Any, kind: str) -> None:
    message = Message({TEXT: "open a ticket", METADATA: metadata})
    (tagged,) = detector.process([message])
    assert tagged.get(ENTITIES) == [
        {"entity": "chat", "value": kind, "start": 0, "end": 0, "extractor": "ChatDetector"}
    ]
    assert tagged.as_dict(only_output_properties=True)[ENTITIES][0]["value"] == kind


def test_the_entity_is_added_to_what_other_extractors_found(detector: ChatDetector) -> None:
    found = {"entity": "ticket_id", "value": "ALM-000001", "start": 0, "end": 10}
    message = Message({TEXT: "ALM-000001", ENTITIES: [found]})
    (tagged,) = detector.process([message])
    assert [e["entity"] for e in tagged.get(ENTITIES)] == ["ticket_id", "chat"]
