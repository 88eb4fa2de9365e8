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

from typing import Any, Dict, List, Optional, Set

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.state import language
from core import phrases
from core.chat import CHAT_TYPE, DIRECT_MESSAGE, DM_AVAILABLE, GROUP
from core.knowledge import knowledge

NOTICE_SENT_DM = "private_in_dm"
NOTICE_WRITE_DIRECTLY = "private_write_directly"


def _metadata(tracker: Tracker) -> Dict[str, Any]:
    metadata = (tracker.latest_message or {}).get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def in_group_chat(tracker: Tracker) -> bool:
    """Whether the latest message came from a group chat (others may read the replies)."""
    return _metadata(tracker).get(CHAT_TYPE) == GROUP


def can_message_directly(tracker: Tracker) -> bool:
    """Whether the channel can send a reply to the sender alone from a group chat."""
    return _metadata(tracker).get(DM_AVAILABLE) is True


def _notices() -> Set[str]:
    return {phrases.say(key, lang) for key in (NOTICE_SENT_DM, NOTICE_WRITE_DIRECTLY) for lang in knowledge().languages}


def _notice_given(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Whether this turn (earlier actions, or this one so far) already said a privacy notice."""
    notices = _notices()
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        if event.get("event") == "bot" and event.get("text") in notices:
            return True
    return any(message.get("text") in notices for message in dispatcher.messages)


def notice(dispatcher: CollectingDispatcher, tracker: Tracker, key: str) -> None:
    """Say the privacy notice `key`, unless this turn already said one."""
    if not _notice_given(dispatcher, tracker):
        dispatcher.utter_message(text=phrases.say(key, language(tracker)))


def say_privately(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    text: str,
    buttons: Optional[List[Dict[str, Any]]] = None,
) -> None:
    """Utter `text` (with `buttons`) only where the sender alone reads it; see the module's docstring."""
    if not in_group_chat(tracker):
        dispatcher.utter_message(text=text, buttons=buttons or [])
    elif can_message_directly(tracker):
        notice(dispatcher, tracker, NOTICE_SENT_DM)
        dispatcher.utter_message(json_message={DIRECT_MESSAGE: {"text": text, "buttons": buttons or []}})
    else:
        notice(dispatcher, tracker, NOTICE_WRITE_DIRECTLY)


def refuse_ticket_here(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """True, after the notice, when no ticket may be started here: a group chat the channel can't
    leave for a direct message (the form would ask for the email and show the summary in the group)."""
    if in_group_chat(tracker) and not can_message_directly(tracker):
        notice(dispatcher, tracker, NOTICE_WRITE_DIRECTLY)
        return True
    return False
