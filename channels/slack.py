"""Slack input channel: rasa's SlackInput configured from the environment, hardened.

credentials.yml names it as ``channels.slack.SlackChannel: {}``; the webhook is
``/webhooks/slack/webhook`` (Event Subscriptions and Interactivity request URL).

Settings (environment variables, core/settings.py):

- ``SLACK_BOT_TOKEN``       bot token (``xoxb-…``) used to post the replies;
- ``SLACK_SIGNING_SECRET``  the app's signing secret, checked on every request;
- ``SLACK_API_URL``         Slack Web API base URL (default ``https://slack.com/api/``;
                            the tests point it at a local fake).

While the token or the secret is unset the server still starts, and every request
under ``/webhooks/slack/`` is refused with 503.

What differs from rasa's ``SlackInput``:

- every request carrying ``X-Slack-Retry-Num`` is acknowledged without being
  processed (rasa does that only for some retry reasons), and ``event_callback``
  events are de-duplicated by ``event_id`` (``channels.memory.expiring_store``: in the
  production profile in Redis, shared by every Rasa process; else in memory), so Slack's
  retries never produce a second answer or a second ticket;
- anything malformed (headers, JSON of the wrong shape or types, a body over 1 MB, bytes
  that are not UTF-8) is a 4xx, never a 500; the signature check accepts only ASCII
  ``v0=<64 hex>`` and a timestamp of ASCII digits;
- Rasa gets ``metadata.chat_type`` ("direct" for a DM: channel id ``D…`` and, when given,
  ``channel_type`` "im"; else "group") and ``dm_available = True``: in a channel the ticket
  actions send personal details as a custom ``direct_message``, which is posted in a direct
  message with the sender (``conversations.open``, scope ``im:write``), never in the channel;
- ``url_verification`` is answered as ``{"challenge": …}`` and the ``Content-Type``
  may carry parameters (``application/json; charset=utf-8``);
- replies are posted through the configured Web API base URL, without the
  ``as_user`` argument (new Slack apps' bot tokens fail with ``invalid_arguments``
  when it is sent), with the bot's Markdown turned into Slack mrkdwn, and with up
  to 25 buttons per message (rasa drops all buttons above 5; the help menu has 6);
- a failed ``chat.postMessage`` is logged instead of raised, so the conversation
  state is still saved.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Text
from urllib.parse import parse_qs

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, async_default_handlers
from slack_sdk.web.async_client import AsyncWebClient

from channels.memory import ExpiringStore, MemoryStore, StateUnavailable, expiring_store
from core.chat import CHAT_TYPE, DIRECT, DIRECT_MESSAGE, DM_AVAILABLE, GROUP
from core.language import detect_language
from core.phrases import privacy_notices, say_in_language_or_all
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

ENV_TOKEN = "SLACK_BOT_TOKEN"
ENV_SIGNING_SECRET = "SLACK_SIGNING_SECRET"
ENV_API_URL = "SLACK_API_URL"
DEFAULT_API_URL = AsyncWebClient.BASE_URL  # https://slack.com/api/

RETRY_NUM_HEADER = "X-Slack-Retry-Num"
RETRY_REASON_HEADER = "X-Slack-Retry-Reason"

# Slack retries after ~0 s, 1 min and 5 min; an hour covers them with room to spare.
SEEN_EVENTS_MAX = 10_000
SEEN_EVENTS_TTL_SECONDS = 3600.0

MAX_BODY_BYTES = 1024 * 1024
MAX_SIGNATURE_AGE_SECONDS = 5 * 60
MAX_ID_CHARS = 128  # user, channel, event, trigger ids and timestamps: Slack's are far shorter
MAX_TEXT_CHARS = 5000  # longer texts are cut: NLU needs no more, and a paste should still get an answer
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only (str.isdigit also takes "²")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")

# Block Kit limits (https://api.slack.com/reference/block-kit).
MAX_BUTTONS_PER_ACTIONS_BLOCK = 25
MAX_BUTTONS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_SECTION_TEXT = 3000


def _media_type(request: Request) -> str:
    """`application/json` from `application/json; charset=utf-8`."""
    return (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()


_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_ITALIC = re.compile(r"(?<![*\w])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![*\w])")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")


def to_mrkdwn(text: str) -> str:
    """The bot's Markdown (`**bold**`, `*italic*`, `[text](url)`) as Slack mrkdwn, `&<>` escaped."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", text)
    bold: List[str] = []

    def keep_bold(match: "re.Match[str]") -> str:
        bold.append(match.group(1))
        return f"\x00{len(bold) - 1}\x00"

    text = _BOLD.sub(keep_bold, text)
    text = _ITALIC.sub(r"_\1_", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: f"*{bold[int(m.group(1))]}*", text)


def _chunks(text: str, size: int) -> List[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class SlackApiBot(SlackBot):
    """rasa's SlackBot posting through `base_url`, without `as_user`, in mrkdwn, with up to 25 buttons.

    `user_id` is the Slack user who wrote: a custom `direct_message` goes to them alone.
    """

    def __init__(
        self,
        token: Text,
        slack_channel: Optional[Text] = None,
        thread_id: Optional[Text] = None,
        proxy: Optional[Text] = None,
        base_url: Text = DEFAULT_API_URL,
        user_id: Optional[Text] = None,
    ) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        self.token = token
        self.base_url = base_url
        self.user_id = user_id
        self.client = AsyncWebClient(token, base_url=base_url, proxy=proxy, retry_handlers=_retry_handlers())
        # One instance per incoming message: the privacy notices this turn already posted.
        self.notices_posted: Set[str] = set()

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        """A `direct_message` (core/chat.py) in a DM with the user; any other custom message here, in this
        conversation (a custom message never picks its own channel)."""
        if DIRECT_MESSAGE in json_message:
            await self.send_direct_message(json_message[DIRECT_MESSAGE])
            return
        message = {key: value for key, value in json_message.items() if key not in ("channel", "as_user")}
        await self._post_message(channel=self.slack_channel or recipient_id, **message)

    async def send_direct_message(self, message: Any) -> None:
        """Post `message` ({"text", "buttons"}) to the user alone, in a DM opened with conversations.open.

        Nothing is posted when the DM can't be opened (no user, missing `im:write` scope): the
        message is personal, so it never falls back to the conversation it came from.
        """
        if not isinstance(message, dict) or not isinstance(message.get("text"), str):
            logger.error("Slack: a direct message without text was dropped")
            return
        if not self.user_id:
            logger.error("Slack: a direct message was dropped: the user is unknown")
            return
        try:
            answer = await self.client.conversations_open(users=self.user_id)
            channel = answer["channel"]["id"]
        except SlackApiError as error:
            logger.error("Slack conversations.open with %s failed: %s", self.user_id, error.response.get("error"))
            return
        except (KeyError, TypeError):
            logger.error("Slack conversations.open with %s gave no channel id", self.user_id)
            return
        if not isinstance(channel, str) or not channel:
            logger.error("Slack conversations.open with %s gave no channel id", self.user_id)
            return
        direct = SlackApiBot(self.token, channel, None, self.proxy, self.base_url, self.user_id)
        direct.client = self.client
        buttons = message.get("buttons")
        if isinstance(buttons, list) and buttons:
            await direct.send_text_with_buttons(channel, message["text"], buttons)
        else:
            await direct.send_text_message(channel, message["text"])

    async def _post_message(self, channel: Text, **kwargs: Any) -> None:
        # `as_user` is refused ("invalid_arguments") for the bot tokens of new Slack apps;
        # a bot token posts as the bot anyway. `type` is not a chat.postMessage argument.
        kwargs.pop("as_user", None)
        kwargs.pop("type", None)
        try:
            await super()._post_message(channel, **kwargs)
        except SlackApiError as error:
            # Raising would stop rasa before it saves the conversation; the reply is lost either way.
            logger.error("Slack chat.postMessage to %s failed: %s", channel, error.response.get("error"))

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        if text in privacy_notices():
            # Each personal reply of a turn (an action's, a form question's) comes with the notice;
            # the channel reads it once.
            if text in self.notices_posted:
                return
            self.notices_posted.add(text)
        recipient = self.slack_channel or recipient_id
        for part in text.strip().split("\n\n"):
            if part.strip():
                await self._post_message(channel=recipient, text=to_mrkdwn(part))

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        recipient = self.slack_channel or recipient_id
        if len(buttons) > MAX_BUTTONS:
            logger.warning("Slack shows at most %d buttons; dropped %d", MAX_BUTTONS, len(buttons) - MAX_BUTTONS)
            buttons = buttons[:MAX_BUTTONS]
        mrkdwn = to_mrkdwn(text)
        blocks: List[Dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
            for chunk in _chunks(mrkdwn, MAX_SECTION_TEXT)
            if chunk.strip()
        ]
        elements = [
            {
                "type": "button",
                "action_id": f"rasa_button_{index}",
                "text": {"type": "plain_text", "text": str(button["title"])[:MAX_BUTTON_TEXT] or " ", "emoji": True},
                "value": str(button["payload"])[:MAX_BUTTON_VALUE],
            }
            for index, button in enumerate(buttons)
        ]
        for start in range(0, len(elements), MAX_BUTTONS_PER_ACTIONS_BLOCK):
            blocks.append({"type": "actions", "elements": elements[start : start + MAX_BUTTONS_PER_ACTIONS_BLOCK]})
        await self._post_message(channel=recipient, text=mrkdwn or " ", blocks=blocks)


def _retry_handlers() -> list:
    # Connection errors (slack_sdk's default) and HTTP 429 (honouring Retry-After).
    return async_default_handlers() + [AsyncRateLimitErrorRetryHandler(max_retry_count=2)]


class SlackChannel(SlackInput):
    """Slack over the Events API and Interactivity, configured from the environment."""

    @classmethod
    def name(cls) -> Text:
        return "slack"

    @classmethod
    def from_credentials(
        cls, credentials: Optional[Dict[Text, Any]], settings: Optional[Settings] = None
    ) -> InputChannel:
        """Token, signing secret and API URL from the settings; other options may come from credentials.yml.

        Optional credentials.yml keys (as for rasa's channel): `slack_channel`, `proxy`,
        `use_threads`, `conversation_granularity` (sender | channel | thread).
        """
        credentials = credentials or {}
        settings = settings or get_settings()
        token, secret = settings.slack_bot_token or "", settings.slack_signing_secret or ""
        missing = [name for name, value in ((ENV_TOKEN, token), (ENV_SIGNING_SECRET, secret)) if not value]
        if missing:
            logger.warning("Slack channel not configured (%s unset): /webhooks/slack/ answers 503.", ", ".join(missing))
        api_url = settings.slack_api_url
        if not api_url.endswith("/"):
            api_url += "/"  # slack_sdk joins base URL and method with urljoin
        channel = cls(
            token,
            credentials.get("slack_channel"),
            credentials.get("proxy"),
            use_threads=bool(credentials.get("use_threads", False)),
            slack_signing_secret=secret,
            conversation_granularity=credentials.get("conversation_granularity", "sender"),
            api_url=api_url,
        )
        # Production profile: the seen event ids in Redis, so any Rasa process can take any event.
        channel.seen_events = expiring_store(settings, "slack:seen", SEEN_EVENTS_MAX, SEEN_EVENTS_TTL_SECONDS)
        return channel

    def __init__(
        self,
        slack_token: Text,
        slack_channel: Optional[Text] = None,
        proxy: Optional[Text] = None,
        *args: Any,
        api_url: Text = DEFAULT_API_URL,
        **kwargs: Any,
    ) -> None:
        self.api_url = api_url
        # This process's memory unless from_credentials (production profile) or a test sets another.
        self.seen_events: ExpiringStore = MemoryStore(SEEN_EVENTS_MAX, SEEN_EVENTS_TTL_SECONDS)
        if not args:  # rasa's process_message reads these headers (the webhook has already dropped retries)
            kwargs.setdefault("slack_retry_reason_header", RETRY_REASON_HEADER)
            kwargs.setdefault("slack_retry_number_header", RETRY_NUM_HEADER)
        super().__init__(slack_token, slack_channel, proxy, *args, **kwargs)

    @property
    def configured(self) -> bool:
        return bool(self.slack_token and self.slack_signing_secret)

    def _validate_credentials(self) -> None:
        """rasa raises without a signing secret; here the webhook answers 503 instead."""

    def get_output_channel(
        self, channel: Optional[Text] = None, thread_id: Optional[Text] = None, user_id: Optional[Text] = None
    ) -> OutputChannel:
        return SlackApiBot(
            self.slack_token, channel or self.slack_channel, thread_id, self.proxy, self.api_url, user_id
        )

    def is_request_from_slack_authentic(self, request: Request) -> bool:
        """The v0 signature (HMAC-SHA256 of `v0:<timestamp>:<body>`), at most 5 minutes old.

        Headers of any other form (non-ASCII, not hex, a timestamp that is not ASCII digits) are
        refused without an exception.
        """
        timestamp = (request.headers.get("X-Slack-Request-Timestamp") or "").strip()
        signature = (request.headers.get("X-Slack-Signature") or "").strip()
        if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
            return False
        if abs(time.time() - int(timestamp)) > MAX_SIGNATURE_AGE_SECONDS:
            return False
        base = b"v0:" + timestamp.encode("ascii") + b":" + (request.body or b"")
        digest = hmac.new(self.slack_signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"v0={digest}".encode("ascii"), signature.encode("ascii"))

    async def _pass_on(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: Text,
        user_id: Text,
        metadata: Dict[str, Any],
    ) -> HTTPResponse:
        """Hand the message to Rasa in the background (Slack wants its answer within 3 seconds)."""
        conversation_id = self._get_conversation_id(user_id, metadata["out_channel"], metadata["thread_id"])
        thread_id = metadata["thread_id"] if self.use_threads else None
        output = self.get_output_channel(metadata["out_channel"], thread_id, user_id)
        message = UserMessage(text, output, conversation_id, input_channel=self.name(), metadata=metadata)
        task: "asyncio.Future[Any]" = asyncio.ensure_future(on_new_message(message))
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)
        return response.text("")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        slack_webhook = Blueprint("alimail_slack_webhook", __name__)

        def not_configured() -> HTTPResponse:
            return response.json(
                {"status": "error", "reason": "the Slack channel is not configured"},
                status=HTTPStatus.SERVICE_UNAVAILABLE,
            )

        @slack_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"}) if self.configured else not_configured()

        @slack_webhook.route("/webhook", methods=["GET", "POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.configured:
                return not_configured()
            if len(request.body or b"") > MAX_BODY_BYTES:
                return response.text("Body too large.", status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            if not self.is_request_from_slack_authentic(request):
                return response.text("Missing, stale or wrong X-Slack-Signature.", status=HTTPStatus.UNAUTHORIZED)
            retry_num = request.headers.get(RETRY_NUM_HEADER)
            if retry_num is not None:
                logger.info("Ignored Slack retry #%s (%s).", retry_num, request.headers.get(RETRY_REASON_HEADER))
                return response.text("", status=HTTPStatus.OK, headers={"X-Slack-No-Retry": "1"})

            media_type = _media_type(request)
            try:
                if media_type == "application/json":
                    return await self._handle_event(request, on_new_message)
                if media_type == "application/x-www-form-urlencoded":
                    return await self._handle_interaction(request, on_new_message)
            except StateUnavailable as error:
                # Unchecked, a redelivery could be answered twice; Rasa's locks are in the same Redis anyway.
                logger.error("Slack request not handled: %s", error)
                return response.text("Temporarily unavailable.", status=HTTPStatus.SERVICE_UNAVAILABLE)
            return response.text("Unsupported content type.", status=HTTPStatus.UNSUPPORTED_MEDIA_TYPE)

        return slack_webhook

    async def _handle_event(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        """Events API: url_verification and event_callback; 400 for a body of the wrong shape or types."""
        try:
            body = json.loads(request.body or b"null")
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            body = None
        if not isinstance(body, dict):
            return response.text("Malformed JSON body.", status=HTTPStatus.BAD_REQUEST)
        try:
            kind = _string(body, "type")
            if kind == "url_verification":
                return response.json({"challenge": _string(body, "challenge", MAX_TEXT_CHARS)})
            if kind != "event_callback":
                return response.text("Ignored.")
            event_id = _string(body, "event_id")
            event = _object(body, "event")
            users = self._bot_users(body)
            user, channel = _slack_id(event, "user"), _slack_id(event, "channel")
            text = _string(event, "text", MAX_BODY_BYTES)  # cut to MAX_TEXT_CHARS below
            thread_id = _string(event, "thread_ts") or _string(event, "ts")
            channel_type = _string(event, "channel_type")
            event_type = _string(event, "type")
        except ValueError as error:
            return response.text(f"Malformed event: {error}.", status=HTTPStatus.BAD_REQUEST)
        unchecked = False
        try:
            if event_id and not await self.seen_events.add_if_new(f"event:{event_id}"):
                logger.info("Ignored duplicate Slack event %s.", event_id)
                return response.text("Duplicate event ignored.")
        except StateUnavailable as error:
            unchecked = self._unchecked(error)
        if event_type not in ("message", "app_mention") or not text or event.get("bot_id") or not user:
            return response.text("Not a user message.")
        if not channel:
            return response.text("Malformed event: missing field 'channel'.", status=HTTPStatus.BAD_REQUEST)
        metadata = _metadata(channel, thread_id, users, _is_direct(channel, channel_type))
        if not (channel_type == "im" or event_type == "app_mention" or channel == self.slack_channel):
            logger.info("Ignored a Slack message on unsupported channel %s.", channel)
            return response.text("Channel not supported.")
        text = self._sanitize_user_message(text, users)[:MAX_TEXT_CHARS]
        if unchecked:
            return self._ask_to_resend(text, user, metadata)
        return await self._pass_on(on_new_message, text, user, metadata)

    async def _handle_interaction(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        """Interactivity: a button (or other block element) in one of the bot's messages was used."""
        try:
            form = parse_qs((request.body or b"").decode("utf-8"), max_num_fields=20)
            payload = json.loads(form["payload"][0])
        except (ValueError, RecursionError, KeyError):  # not UTF-8, too many fields, no payload, not JSON
            payload = None
        if not isinstance(payload, dict):
            return response.text("Malformed interaction payload.", status=HTTPStatus.BAD_REQUEST)
        try:
            trigger_id = _string(payload, "trigger_id")
            actions = payload.get("actions")
            if actions is not None and not (isinstance(actions, list) and all(isinstance(a, dict) for a in actions)):
                raise ValueError("invalid field 'actions'")
            action = actions[0] if actions else {}
            action_type = _string(action, "type")
            text = _interaction_value(action, action_type)
            user = _slack_id(_object(payload, "user"), "id")
            channel_info = _object(payload, "channel")
            channel = _slack_id(channel_info, "id")
            message = _object(payload, "message")
            thread_id = _string(message, "thread_ts") or _string(message, "ts")
        except ValueError as error:
            return response.text(f"Malformed interaction payload: {error}.", status=HTTPStatus.BAD_REQUEST)
        unchecked = False
        try:
            if trigger_id and not await self.seen_events.add_if_new(f"trigger:{trigger_id}"):
                return response.text("Duplicate interaction ignored.")
        except StateUnavailable as error:
            unchecked = self._unchecked(error)
        if action_type not in INTERACTIVE_TYPES:
            if action_type:
                logger.warning("Slack interaction of unsupported type %r ignored.", action_type)
            return response.text("Interaction ignored.")
        if text is None:
            return response.text("Interaction without a value ignored.")  # e.g. link buttons
        if not user or not channel:
            return response.text("Malformed interaction payload: no user or channel.", status=HTTPStatus.BAD_REQUEST)
        metadata = _metadata(channel, thread_id, [user], _is_direct(channel, None))
        if unchecked:
            return self._ask_to_resend(text, user, metadata)
        return await self._pass_on(on_new_message, text[:MAX_TEXT_CHARS], user, metadata)

    @staticmethod
    def _unchecked(error: StateUnavailable) -> bool:
        """The record of answered events (Redis) is down. Unchecked, a redelivery could be answered twice,
        and Rasa's locks are in the same Redis anyway: the request is acknowledged, not handled, and the
        user is asked to send it again (issue 17, README "When a part fails")."""
        logger.error("Slack request not handled, the user is asked to resend it: %s", error)
        return True

    def _ask_to_resend(self, text: Text, user_id: Text, metadata: Dict[str, Any]) -> HTTPResponse:
        """Acknowledge now; post the phrase `part_unavailable` in the background, in the message's language
        (both when it says nothing about it, e.g. a button)."""
        thread_id = metadata["thread_id"] if self.use_threads else None
        output = self.get_output_channel(metadata["out_channel"], thread_id, user_id)
        phrase = say_in_language_or_all("part_unavailable", detect_language(text))

        async def tell() -> None:
            try:
                await output.send_text_message(user_id, phrase)
            except Exception:  # Slack itself unreachable: nothing more to do, and never a stack trace to Slack
                logger.exception("Could not ask Slack user %s to resend", user_id)

        task: "asyncio.Future[Any]" = asyncio.ensure_future(tell())
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)
        return response.text("")

    @staticmethod
    def _bot_users(body: Dict[str, Any]) -> List[str]:
        """The bot's own user ids (its mentions are removed from the text): authed_users, else the first
        authorization's user_id. ValueError when they are of the wrong type."""
        users = body.get("authed_users")
        if users is not None:
            if not isinstance(users, list) or not all(isinstance(u, str) and _ID.fullmatch(u) for u in users):
                raise ValueError("invalid field 'authed_users'")
            if users:
                return list(users)
        authorizations = body.get("authorizations")
        if authorizations is None or authorizations == []:
            return []
        if not isinstance(authorizations, list) or not isinstance(authorizations[0], dict):
            raise ValueError("invalid field 'authorizations'")
        user = _slack_id(authorizations[0], "user_id")
        return [user] if user else []


# -- reading Slack's JSON: every field checked for its type and size ------------------------------------
_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")  # U0123ABCD, C…, D…, Ev…, 1700000000.000100, trigger ids
INTERACTIVE_TYPES = (
    "button",
    "select",
    "static_select",
    "external_select",
    "conversations_select",
    "users_select",
    "channels_select",
    "overflow",
    "datepicker",
)


def _string(data: Dict[str, Any], key: str, max_chars: int = MAX_ID_CHARS) -> Optional[str]:
    """The field when it is a string (None when absent or null); ValueError when it is of another type,
    longer than `max_chars`, or can't be written as UTF-8 (a lone surrogate from JSON)."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_chars:
        raise ValueError(f"invalid field {key!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"invalid text in field {key!r}") from None
    return value


def _slack_id(data: Dict[str, Any], key: str) -> Optional[str]:
    """A Slack id (user, channel, …): letters, digits, `._-`; None when absent."""
    value = _string(data, key)
    if value is not None and not _ID.fullmatch(value):
        raise ValueError(f"invalid field {key!r}")
    return value or None


def _object(data: Dict[str, Any], key: str) -> Dict[str, Any]:
    """The field when it is an object ({} when absent or null); ValueError for another type."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"invalid field {key!r}")
    return value


def _interaction_value(action: Dict[str, Any], action_type: Optional[str]) -> Optional[str]:
    """What the user chose with the element (a button's value, a select's option, …), as rasa reads it."""
    if action_type == "button":
        return _string(action, "value", MAX_TEXT_CHARS)
    if action_type in ("static_select", "external_select", "overflow"):
        return _string(_object(action, "selected_option"), "value", MAX_TEXT_CHARS)
    if action_type == "select":
        options = action.get("selected_options")
        if not isinstance(options, list) or not options or not isinstance(options[0], dict):
            return None
        return _string(options[0], "value", MAX_TEXT_CHARS)
    field = {
        "conversations_select": "selected_conversation",
        "users_select": "selected_user",
        "channels_select": "selected_channel",
        "datepicker": "selected_date",
    }.get(action_type or "")
    return _string(action, field, MAX_TEXT_CHARS) if field else None


def _is_direct(channel: str, channel_type: Optional[str]) -> bool:
    """A DM with the bot: a `D…` channel, and `channel_type` "im" when Slack gives one (mpim: a group)."""
    return channel.startswith("D") and channel_type in (None, "im")


def _metadata(channel: str, thread_id: Optional[str], users: List[str], direct: bool) -> Dict[str, Any]:
    """As rasa's get_metadata (reply channel, thread, the bot's own user ids), with the kind of chat."""
    return {
        "out_channel": channel,
        "thread_id": thread_id,
        "users": users,
        CHAT_TYPE: DIRECT if direct else GROUP,
        DM_AVAILABLE: True,
    }
