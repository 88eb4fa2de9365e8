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

CHAT_TYPE = "chat_type"
GROUP = "group"
DIRECT = "direct"
DM_AVAILABLE = "dm_available"
DIRECT_MESSAGE = "direct_message"
