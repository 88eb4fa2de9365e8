"""Masking of Rasa events as the tracker store writes them (stores/masking.py).

The store itself, on an SQLite file and on PostgreSQL, is in tests/integration/stores/test_masking_store.py.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    EntitiesAdded,
    Event,
    ReminderScheduled,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from core.secrets import mask_secrets
from stores import masking
from stores.masking import MaskedEvent, MaskingSQLTrackerStore, mask_event

PASSWORD = "Hunter2!"
CODE = "482913"
SECRETS = (PASSWORD, CODE)
TYPED = f"my password is {PASSWORD} and it stopped working"
TYPED_ZH = f"验证码是{CODE}，登录不了"


def assert_no_secret(data: Any) -> None:
    text = json.dumps(data, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text, text


def user_event(text: str = TYPED, **extra: Any) -> UserUttered:
    """The user's message as our pipeline parses it, with an entity cut from the secret in it."""
    piece = PASSWORD if PASSWORD in text else CODE
    start = text.index(piece)
    parse_data: Dict[str, Any] = {
        "text": text,
        "intent": {"name": "forgot_password", "confidence": 0.91},
        "intent_ranking": [
            {"name": "forgot_password", "confidence": 0.91},
            {"name": "verification_failed", "confidence": 0.05},
        ],
        "entities": [
            # A piece of the secret on its own: nothing in it says "password", yet it must go.
            {
                "entity": "ticket_id",
                "value": piece,
                "start": start,
                "end": start + len(piece),
                "extractor": "RegexEntityExtractor",
            },
            {"entity": "role", "value": "user", "start": 0, "end": 2, "extractor": "RegexEntityExtractor"},
        ],
        "response_selector": {
            "all_retrieval_intents": ["faq"],
            "faq": {"response": {"intent_response_key": "faq/password_reset", "utter_action": "utter_faq/x"}},
        },
    }
    return UserUttered(
        text,
        intent=parse_data["intent"],
        entities=parse_data["entities"],
        parse_data=parse_data,
        input_channel="rest",
        message_id="c0ffee12345678",
        **extra,
    )


def test_user_text_parse_data_and_entity_pieces_are_masked_and_labels_kept():
    event = user_event(metadata={"client": "web"})
    masked = mask_event(event.as_dict())

    assert_no_secret(masked)
    assert masked["text"] == "my password is [hidden] and it stopped working"
    assert masked["parse_data"]["text"] == masked["text"]
    assert masked["parse_data"]["intent"] == {"name": "forgot_password", "confidence": 0.91}
    assert [r["name"] for r in masked["parse_data"]["intent_ranking"]] == ["forgot_password", "verification_failed"]
    assert [e["value"] for e in masked["parse_data"]["entities"]] == ["[hidden]", "user"]
    assert masked["parse_data"]["entities"][0]["entity"] == "ticket_id"
    selector = masked["parse_data"]["response_selector"]
    assert selector["faq"]["response"]["intent_response_key"] == "faq/password_reset"  # a label, not typed
    assert (masked["event"], masked["input_channel"], masked["message_id"]) == ("user", "rest", "c0ffee12345678")
    assert masked["timestamp"] == event.timestamp and masked["metadata"] == {"client": "web"}


def test_the_live_event_is_not_changed():
    event = user_event()
    before = copy.deepcopy(event.as_dict())
    mask_event(event.as_dict())
    assert event.as_dict() == before and event.text == TYPED and event.parse_data["text"] == TYPED


def test_chinese_verification_code_is_masked():
    masked = mask_event(user_event(TYPED_ZH).as_dict())
    assert masked["text"] == "验证码是[hidden]，登录不了"
    assert_no_secret(masked)


def test_metadata_strings_are_masked_at_any_depth_whatever_their_key():
    metadata = {
        "name": f"password: {PASSWORD}",  # "name" is a label elsewhere, not in metadata
        "history": [{"text": TYPED_ZH, "n": 3}, [f"code {CODE}"]],
        "verified_identity": {"employee_id": "e42", "email": "ann@corp.example"},
        "flag": True,
    }
    for event in (
        user_event(metadata=metadata),
        BotUttered("hi", metadata=metadata),
        SessionStarted(metadata=metadata),
    ):
        masked = mask_event(event.as_dict())
        assert_no_secret(masked)
        assert masked["metadata"]["verified_identity"] == metadata["verified_identity"]
        assert masked["metadata"]["history"][0]["n"] == 3 and masked["metadata"]["flag"] is True
    assert metadata["name"] == f"password: {PASSWORD}"  # the caller's dict is not changed


def test_slot_values_are_masked_and_slot_names_kept():
    for value, expected in (
        (TYPED, "my password is [hidden] and it stopped working"),
        ([f"pw: {PASSWORD}", "ok"], ["pw: [hidden]", "ok"]),
        ({"note": TYPED_ZH}, {"note": "验证码是[hidden]，登录不了"}),
        (3.0, 3.0),
        (None, None),
    ):
        masked = mask_event(SlotSet("ticket_description", value).as_dict())
        assert masked["name"] == "ticket_description"
        assert masked["value"] == expected


def test_bot_utterances_echoing_the_user_are_masked():
    data = {"buttons": [{"title": f"Yes, code {CODE}", "payload": "/affirm"}], "custom": {"summary": TYPED}}
    masked = mask_event(BotUttered(f"You wrote: {TYPED}", data=data).as_dict())
    assert_no_secret(masked)
    assert masked["text"] == "You wrote: my password is [hidden] and it stopped working"
    assert masked["data"]["buttons"][0]["payload"] == "/affirm"


def test_action_names_policies_and_reminder_intents_are_kept():
    action = mask_event(ActionExecuted("action_start_guide", policy="RulePolicy", confidence=1.0).as_dict())
    assert (action["name"], action["policy"], action["confidence"]) == ("action_start_guide", "RulePolicy", 1.0)
    e2e = mask_event(ActionExecuted(action_text=f"your code is {CODE}").as_dict())
    assert e2e["action_text"] == "your code is [hidden]"
    from datetime import datetime

    reminder = ReminderScheduled(
        "password_expired", datetime(2030, 1, 1), entities=[{"entity": "x", "value": f"pw {PASSWORD}"}], name="r1"
    )
    masked = mask_event(reminder.as_dict())
    assert masked["intent"] == "password_expired" and masked["name"] == "r1"
    assert_no_secret(masked)
    added = mask_event(EntitiesAdded([{"entity": "note", "value": f"code {CODE}"}]).as_dict())
    assert added["entities"] == [{"entity": "note", "value": "code [hidden]"}]


def test_masked_event_is_what_the_sql_store_serialises():
    event = user_event()
    masked = MaskedEvent(event)
    assert masked.type_name == "user"
    assert masked.as_dict() == mask_event(event.as_dict())
    assert_no_secret(masked.as_dict())


def test_masked_events_restore_a_tracker_with_the_same_intents_and_slots():
    """The next turn reads the masked history: Rasa must rebuild it with the same labels."""
    domain = Domain.from_dict(
        {
            "intents": ["forgot_password"],
            "slots": {"ticket_description": {"type": "text", "mappings": [{"type": "custom"}]}},
        }
    )
    events = [
        ActionExecuted("action_listen"),
        user_event(),
        SlotSet("ticket_description", TYPED),
        ActionExecuted("action_start_guide"),
        BotUttered(f"Noted: {TYPED}"),
    ]
    stored = [MaskedEvent(event).as_dict() for event in events]
    assert all(Event.from_parameters(data) is not None for data in stored)
    tracker = DialogueStateTracker.from_dict("s1", stored, domain.slots)
    assert tracker.latest_message.intent["name"] == "forgot_password"
    assert tracker.latest_message.text == "my password is [hidden] and it stopped working"
    assert tracker.get_slot("ticket_description") == "my password is [hidden] and it stopped working"
    assert tracker.latest_action_name == "action_start_guide"
    assert_no_secret([e.as_dict() for e in tracker.events])


def test_strings_found_clean_are_remembered_and_masking_stays_masking_secrets() -> None:
    """The clean-string memory answers exactly as `mask_secrets` for the whole secrets corpus, asked
    twice, and never holds a string a secret was masked in."""
    corpus = yaml.safe_load((Path(__file__).resolve().parents[2] / "secrets_corpus.yml").read_text(encoding="utf-8"))
    texts = [case["text"] for case in corpus["mask"]] + list(corpus["keep"])
    masking._clean_strings.clear()
    for _ in range(2):
        assert [masking._masked_string(text) for text in texts] == [mask_secrets(text) for text in texts]
    assert set(masking._clean_strings) == {text for text in texts if mask_secrets(text) == text}
    assert not set(masking._clean_strings) & {case["text"] for case in corpus["mask"]}


def test_the_clean_string_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(masking, "CLEAN_STRINGS_KEPT", 3)
    masking._clean_strings.clear()
    for number in range(10):
        masking._masked_string(f"step {number} of the guide")
    masking._masked_string("x" * (masking.CLEAN_STRING_MAX_CHARS + 1))
    assert list(masking._clean_strings) == [f"step {n} of the guide" for n in (7, 8, 9)]


def test_an_sqlite_store_keeps_a_write_ahead_log(tmp_path: Path) -> None:
    MaskingSQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(tmp_path / "trackers.sqlite3"))
    with sqlite3.connect(tmp_path / "trackers.sqlite3") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL: a commit is on disk
