"""Personal details never go to a group chat: ticket status, the ticket form and its summary.

The channel says what kind of chat a message came from (core/chat.py: `chat_type`, `dm_available`,
set by the server from the request it verified). In a direct chat, or a channel that says nothing
(REST, web chat), personal replies are uttered as usual. In a group:

- where the channel can write to the sender alone (Slack), the reply becomes a custom
  `direct_message`, which the channel posts in a direct message, and the group reads a notice;
- elsewhere (a DingTalk group), the group reads only a notice asking the person to write directly,
  and no ticket is started there.

The notice is uttered at most once per turn, however many personal replies the turn has.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.state import language
from core import phrases
from core.chat import (
    KIND_DIRECT,
    KIND_GROUP,
    NOTICE_SENT_DM,
    NOTICE_WRITE_DIRECTLY,
    chat_kind,
    notice_key,
    private_reply,
)
from core.phrases import privacy_notices

__all__ = ["NOTICE_SENT_DM", "NOTICE_WRITE_DIRECTLY", "in_group_chat", "refuse_ticket_here", "say_privately"]


def _kind(tracker: Tracker) -> str:
    return chat_kind((tracker.latest_message or {}).get("metadata"))


def in_group_chat(tracker: Tracker) -> bool:
    """Whether the latest message came from a group chat (others may read the replies)."""
    return _kind(tracker) != KIND_DIRECT


def _notice_given(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Whether this turn (earlier actions, or this one so far) already said a privacy notice."""
    notices = privacy_notices()
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        if event.get("event") == "bot" and event.get("text") in notices:
            return True
    return any(message.get("text") in notices for message in dispatcher.messages)


def say_privately(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    text: str,
    buttons: Optional[List[Dict[str, Any]]] = None,
) -> None:
    """Utter `text` (with `buttons`) only where the sender alone reads it; see the module's docstring."""
    kind = _kind(tracker)
    reply = private_reply(
        kind, {"text": text, "buttons": buttons or []}, phrases.say(notice_key(kind), language(tracker))
    )
    if kind != KIND_DIRECT and _notice_given(dispatcher, tracker):
        reply.pop("text")
    if reply.get("text") or reply.get("custom"):
        # one message, as the generated responses have it: the group's notice, the direct message
        dispatcher.utter_message(
            text=reply.get("text"), buttons=reply.get("buttons") or [], json_message=reply.get("custom")
        )


def refuse_ticket_here(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """True, after the notice, when no ticket may be started here: a group chat the channel can't
    leave for a direct message (the form would ask for the email and show the summary in the group)."""
    if _kind(tracker) == KIND_GROUP:
        if not _notice_given(dispatcher, tracker):
            dispatcher.utter_message(text=phrases.say(NOTICE_WRITE_DIRECTLY, language(tracker)))
        return True
    return False
