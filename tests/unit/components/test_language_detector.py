"""components/language_detector.py: the `message_language` entity on rasa Messages."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.language_detector import ENTITY, LanguageDetector


@pytest.fixture
def detector(tmp_path: Path) -> LanguageDetector:
    return LanguageDetector.create(
        {}, LocalModelStorage(tmp_path), Resource("language"), ExecutionContext(GraphSchema({}), "test")
    )


def detected(detector: LanguageDetector, *texts: str) -> List[Message]:
    return detector.process([Message({TEXT: text}) for text in texts])


@pytest.mark.parametrize(
    "text, language",
    [
        ("I can't log in to my mailbox", "en"),
        ("i", "en"),
        ("收不到验证码", "zh"),
        ("收到ESO_LOCAL_SPAM退信", "zh"),
        ("my SMS code 验证码 never came", "zh"),
    ],
)
def test_a_message_that_shows_its_language_gets_the_entity(detector, text, language):
    (message,) = detected(detector, text)
    assert message.get(ENTITIES) == [
        {"entity": ENTITY, "value": language, "start": 0, "end": len(text), "extractor": "LanguageDetector"}
    ]
    assert message.as_dict(only_output_properties=True)[ENTITIES][0]["value"] == language


@pytest.mark.parametrize(
    "text", ["", "   ", "ALM-000123", "ESO_LOCAL_SPAM 554-5.7.1", "ann@corp.example", "https://mail.example.com/x",
             "/faq_password", "SMS OK", "12345", "🙂👍", "x"],
)  # fmt: skip
def test_a_message_that_says_nothing_about_its_language_gets_no_entity(detector, text):
    (message,) = detected(detector, text)
    assert not message.get(ENTITIES)


def test_other_extractors_entities_are_kept_and_each_message_gets_its_own_language(detector):
    code = {"entity": "error_code", "value": "ESO_LOCAL_SPAM", "start": 5, "end": 19, "extractor": "Regex"}
    english = Message({TEXT: "I got ESO_LOCAL_SPAM", ENTITIES: [code]})
    chinese, neutral = Message({TEXT: "退信了"}), Message({TEXT: "ALM-000001", ENTITIES: [code]})
    detector.process([english, chinese, neutral])
    assert [e["entity"] for e in english.get(ENTITIES)] == ["error_code", ENTITY]
    assert english.get(ENTITIES)[1]["value"] == "en"
    assert [e["value"] for e in chinese.get(ENTITIES)] == ["zh"]
    assert neutral.get(ENTITIES) == [code]


def test_a_message_without_text_is_left_alone(detector):
    (message,) = detector.process([Message({"intent": "greet"})])
    assert message.get(ENTITIES) is None
