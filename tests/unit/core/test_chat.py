"""core/chat.py: the kind of chat, and how a personal reply is shown in it."""

from __future__ import annotations

from core import phrases
from core.chat import (
    KIND_DIRECT,
    KIND_GROUP,
    KIND_GROUP_DM,
    NOTICE_SENT_DM,
    NOTICE_WRITE_DIRECTLY,
    notice_key,
    private_reply,
)
from core.phrases import privacy_notices

QUESTION = {"text": "Which email address?", "buttons": [{"title": "a", "payload": "a"}]}


def test_a_direct_chat_shows_the_reply_as_it_is() -> None:
    assert private_reply(KIND_DIRECT, QUESTION, "notice") == QUESTION


def test_a_group_with_direct_messages_reads_the_notice_and_the_reply_goes_to_the_sender() -> None:
    assert private_reply(KIND_GROUP_DM, QUESTION, "notice") == {
        "text": "notice",
        "custom": {"direct_message": QUESTION},
    }


def test_a_group_without_direct_messages_reads_only_the_notice() -> None:
    reply = private_reply(KIND_GROUP, QUESTION, "notice")
    assert reply == {"text": "notice"} and "Which" not in str(reply)


def test_the_notice_says_what_happened() -> None:
    assert notice_key(KIND_GROUP_DM) == NOTICE_SENT_DM
    assert notice_key(KIND_GROUP) == NOTICE_WRITE_DIRECTLY


def test_the_notices_in_every_language() -> None:
    assert privacy_notices() == {
        phrases.say(key, lang) for key in (NOTICE_SENT_DM, NOTICE_WRITE_DIRECTLY) for lang in ("en", "zh")
    }
    assert len(privacy_notices()) == 4
