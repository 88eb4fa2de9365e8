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
  events are de-duplicated by ``event_id`` (in-memory LRU with a TTL), so Slack's
  retries never produce a second answer or a second ticket;
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

import json
import logging
import re
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, async_default_handlers
from slack_sdk.web.async_client import AsyncWebClient

from channels.memory import TTLCache
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
    """rasa's SlackBot posting through `base_url`, without `as_user`, in mrkdwn, with up to 25 buttons."""

    def __init__(
        self,
        token: Text,
        slack_channel: Optional[Text] = None,
        thread_id: Optional[Text] = None,
        proxy: Optional[Text] = None,
        base_url: Text = DEFAULT_API_URL,
    ) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        self.base_url = base_url
        self.client = AsyncWebClient(token, base_url=base_url, proxy=proxy, retry_handlers=_retry_handlers())

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
        return cls(
            token,
            credentials.get("slack_channel"),
            credentials.get("proxy"),
            use_threads=bool(credentials.get("use_threads", False)),
            slack_signing_secret=secret,
            conversation_granularity=credentials.get("conversation_granularity", "sender"),
            api_url=api_url,
        )

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
        self.seen_events = TTLCache(SEEN_EVENTS_MAX, SEEN_EVENTS_TTL_SECONDS)
        if not args:  # rasa's process_message reads these headers (the webhook has already dropped retries)
            kwargs.setdefault("slack_retry_reason_header", RETRY_REASON_HEADER)
            kwargs.setdefault("slack_retry_number_header", RETRY_NUM_HEADER)
        super().__init__(slack_token, slack_channel, proxy, *args, **kwargs)

    @property
    def configured(self) -> bool:
        return bool(self.slack_token and self.slack_signing_secret)

    def _validate_credentials(self) -> None:
        """rasa raises without a signing secret; here the webhook answers 503 instead."""

    def get_output_channel(self, channel: Optional[Text] = None, thread_id: Optional[Text] = None) -> OutputChannel:
        return SlackApiBot(
            self.slack_token, channel or self.slack_channel, thread_id, self.proxy, base_url=self.api_url
        )

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
            if not self.is_request_from_slack_authentic(request):
                return response.text("Missing, stale or wrong X-Slack-Signature.", status=HTTPStatus.UNAUTHORIZED)
            retry_num = request.headers.get(RETRY_NUM_HEADER)
            if retry_num is not None:
                logger.info("Ignored Slack retry #%s (%s).", retry_num, request.headers.get(RETRY_REASON_HEADER))
                return response.text("", status=HTTPStatus.OK, headers={"X-Slack-No-Retry": "1"})

            media_type = _media_type(request)
            if media_type == "application/json":
                return await self._handle_event(request, on_new_message)
            if media_type == "application/x-www-form-urlencoded":
                return await self._handle_interaction(request, on_new_message)
            return response.text("Unsupported content type.", status=HTTPStatus.UNSUPPORTED_MEDIA_TYPE)

        return slack_webhook

    async def _handle_event(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        """Events API: url_verification and event_callback."""
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return response.text("Malformed JSON body.", status=HTTPStatus.BAD_REQUEST)
        if body.get("type") == "url_verification":
            return response.json({"challenge": body.get("challenge")})
        if body.get("type") != "event_callback":
            return response.text("Ignored.")
        event_id = body.get("event_id")
        if event_id and not self.seen_events.add_if_new(f"event:{event_id}"):
            logger.info("Ignored duplicate Slack event %s.", event_id)
            return response.text("Duplicate event ignored.")
        if not self._is_user_message(body):
            return response.text("Not a user message.")
        metadata = self._event_metadata(body)
        if not self._is_supported_channel(body, metadata):
            logger.info("Ignored a Slack message on unsupported channel %s.", metadata["out_channel"])
            return response.text("Channel not supported.")
        event = body["event"]
        conversation_id = self._get_conversation_id(
            event.get("user", ""), metadata["out_channel"], metadata["thread_id"]
        )
        text = self._sanitize_user_message(event.get("text", ""), metadata["users"])
        return await self.process_message(
            request, on_new_message, text=text, sender_id=conversation_id, metadata=metadata
        )

    async def _handle_interaction(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        """Interactivity: a button (or other block element) in one of the bot's messages was used."""
        try:
            payload = json.loads(request.form.get("payload") or "null")
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return response.text("Malformed interaction payload.", status=HTTPStatus.BAD_REQUEST)
        trigger_id = payload.get("trigger_id")
        if trigger_id and not self.seen_events.add_if_new(f"trigger:{trigger_id}"):
            return response.text("Duplicate interaction ignored.")
        if not self._is_interactive_message(payload):
            return response.text("Interaction ignored.")
        text = self._get_interactive_response(payload["actions"][0])
        if text is None:
            return response.text("Interaction without a value ignored.")  # e.g. link buttons
        metadata = self._interaction_metadata(payload)
        conversation_id = self._get_conversation_id(
            (payload.get("user") or {}).get("id"), metadata["out_channel"], metadata["thread_id"]
        )
        return await self.process_message(request, on_new_message, text, conversation_id, metadata)

    @staticmethod
    def _event_metadata(body: Dict[str, Any]) -> Dict[str, Any]:
        """As rasa's get_metadata for a JSON event: reply channel, thread, the bot's own user ids."""
        event = body.get("event") or {}
        users = list(body.get("authed_users") or [])
        if not users and body.get("authorizations"):
            users.append((body["authorizations"][0] or {}).get("user_id"))
        return {
            "out_channel": event.get("channel"),
            "thread_id": event.get("thread_ts", event.get("ts")),
            "users": users,
        }

    @staticmethod
    def _interaction_metadata(payload: Dict[str, Any]) -> Dict[str, Any]:
        """As rasa's get_metadata for an interaction payload."""
        message = payload.get("message") or {}
        user_id = (payload.get("user") or {}).get("id")
        return {
            "out_channel": (payload.get("channel") or {}).get("id"),
            "thread_id": message.get("thread_ts", message.get("ts")),
            "users": [user_id] if user_id else [],
        }
