"""What a channel tells the actions about the chat a message came from, and how a reply goes privately.

The channels set these keys in a message's metadata from the request they verified (never from
a field a client chooses); the ticket actions (actions/privacy.py) read them:

- ``chat_type``: ``"group"`` (a DingTalk group, a Slack channel) or ``"direct"`` (one-to-one).
  Absent (REST, web chat): direct.
- ``dm_available``: whether the channel can also write to the sender alone from a group (Slack:
  a direct message; DingTalk: no, a group's sessionWebhook posts to the group).

A reply meant for the sender alone is a custom message ``{"direct_message": {"text": …,
"buttons": […]}}``: Slack posts it in a direct message with the sender, DingTalk never shows it.
"""

from __future__ import annotations

from typing import Any, Dict

CHAT_TYPE = "chat_type"
GROUP = "group"
DIRECT = "direct"
DM_AVAILABLE = "dm_available"
DIRECT_MESSAGE = "direct_message"

# The kind of chat as one value: the NLU's ChatDetector tags every message with it (entity and
# slot `chat`), so responses can be conditioned on it (data/responses/prompts.yml).
CHAT = "chat"
KIND_DIRECT = "direct"  # one-to-one, or a channel that says nothing (REST, web chat)
KIND_GROUP_DM = "group_dm"  # a group whose channel can write to the sender alone (Slack)
KIND_GROUP = "group"  # a group where nothing can reach the sender alone (DingTalk)
KINDS = (KIND_DIRECT, KIND_GROUP_DM, KIND_GROUP)

# The phrases a group reads instead of a personal reply.
NOTICE_SENT_DM = "private_in_dm"
NOTICE_WRITE_DIRECTLY = "private_write_directly"


def chat_kind(metadata: Any) -> str:
    """The kind of chat a message's metadata (set by the channel that verified it) describes."""
    if not isinstance(metadata, dict) or metadata.get(CHAT_TYPE) != GROUP:
        return KIND_DIRECT
    return KIND_GROUP_DM if metadata.get(DM_AVAILABLE) is True else KIND_GROUP


def private_reply(kind: str, message: Dict[str, Any], notice: str) -> Dict[str, Any]:
    """`message` ({"text", "buttons"}) as it may be shown in a chat of `kind`: as it is in a direct
    chat; in a group, `notice` (the phrase of `notice_key(kind)`) and, where the channel can, the
    message as a custom `direct_message` to the sender alone."""
    if kind == KIND_DIRECT:
        return dict(message)
    if kind == KIND_GROUP_DM:
        return {"text": notice, "custom": {DIRECT_MESSAGE: dict(message)}}
    return {"text": notice}


def notice_key(kind: str) -> str:
    """The phrase a group of `kind` reads instead of a personal reply."""
    return NOTICE_SENT_DM if kind == KIND_GROUP_DM else NOTICE_WRITE_DIRECTLY
