"""The REST channel: Rasa's `rest` webhook, except that the server, not the body, says who is talking.

credentials.yml names it as ``channels.rest.RestInput: {}``; the URL stays Rasa's
``POST /webhooks/rest/webhook`` with ``{"sender": "...", "message": "..."}`` (``?stream=true`` as in
Rasa), and the answer is the list of the bot's messages.

What differs from Rasa's ``rest`` channel (SECURITY.md, "What REST trusts"):

- the message's channel is always ``rest``: a body's ``input_channel`` is ignored, so a REST
  caller can never pass for web chat, Slack or DingTalk (tickets belong to their channel);
- the body's ``metadata`` is dropped, all of it: nothing in the assistant reads client metadata,
  and ``verified_identity`` may only come from the web chat's verified token;
- the conversation id in the tracker store is ``rest:<sender>``, so a REST caller that sends
  another channel's sender id (``employee-42``) gets a conversation of its own, never that
  person's web chat, Slack or DingTalk conversation; replies still carry the client's own
  ``sender`` as ``recipient_id``;
- with ``REST_API_TOKEN`` set every request needs ``Authorization: Bearer <token>`` (compared in
  constant time), else 401; unset, the channel is open, which ``tools.serve`` allows only on a
  loopback interface (``make run`` on 127.0.0.1);
- a body that is not a JSON object with a non-empty string ``sender`` (a number is taken as its
  digits, as Rasa does) and a string ``message`` is refused with 400 and a JSON error, never a 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Coroutine, Dict, Optional, Text, Union

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from rasa.core.channels.rest import QueueOutputChannel
from rasa.utils.endpoints import bool_arg
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream

from core.bearer import authorized
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

CHANNEL = "rest"
CONVERSATION_PREFIX = "rest:"
# Rasa's SQL tracker store keeps sender_id in a VARCHAR(255), the `rest:` prefix included.
MAX_SENDER_CHARS = 250
MAX_MESSAGE_CHARS = 10_000
_DONE = object()


class BadRequest(ValueError):
    """The body can't be a REST message; the text says why (it goes back to the client)."""


@dataclass(frozen=True)
class RestMessage:
    """What the channel takes from a body: the client's sender id and the text, nothing else."""

    sender: str
    text: str

    @property
    def conversation_id(self) -> str:
        """The tracker's id: REST senders live apart from every other channel's ids."""
        return CONVERSATION_PREFIX + self.sender


def parse_body(body: bytes) -> RestMessage:
    """The message of a request body; BadRequest when it is not one. `input_channel` and
    `metadata` (and any other key) are ignored."""
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("the body must be JSON") from None
    if not isinstance(data, dict):
        raise BadRequest('the body must be a JSON object: {"sender": "...", "message": "..."}')
    sender = data.get("sender")
    if isinstance(sender, int) and not isinstance(sender, bool):
        sender = str(sender)
    if not isinstance(sender, str) or not sender.strip():
        raise BadRequest("'sender' must be a non-empty string")
    if len(sender) > MAX_SENDER_CHARS:
        raise BadRequest(f"'sender' must be at most {MAX_SENDER_CHARS} characters")
    text = data.get("message")
    if not isinstance(text, str):
        raise BadRequest("'message' must be a string")
    if len(text) > MAX_MESSAGE_CHARS:
        raise BadRequest(f"'message' must be at most {MAX_MESSAGE_CHARS} characters")
    return RestMessage(sender, text)


def error(status: int, message: str, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
    return response.json({"error": message}, status=status, headers=headers)


class _Collector(CollectingOutputChannel):
    """The replies, addressed to the sender id the client sent (not the tracker's `rest:` id)."""

    def __init__(self, recipient: str) -> None:
        super().__init__()
        self.recipient = recipient

    async def _persist_message(self, message: Dict[Text, Any]) -> None:
        await super()._persist_message(dict(message, recipient_id=self.recipient))


class _StreamCollector(QueueOutputChannel):
    """As `_Collector`, each reply put on a queue as it is sent (`?stream=true`)."""

    def __init__(self, queue: "asyncio.Queue[Any]", recipient: str) -> None:
        super().__init__(queue)
        self.recipient = recipient

    async def _persist_message(self, message: Dict[Text, Any]) -> None:
        await self.messages.put(dict(message, recipient_id=self.recipient))


class RestInput(InputChannel):
    """`POST /webhooks/rest/webhook`; see the module's docstring for what it trusts."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(
        cls, credentials: Optional[Dict[Text, Any]], settings: Optional[Settings] = None
    ) -> "RestInput":
        """The channel from the settings (REST_API_TOKEN); credentials.yml holds no REST keys."""
        settings = settings or get_settings()
        if credentials:
            logger.warning("REST channel: credentials.yml keys %s are ignored", sorted(credentials))
        return cls(settings.rest_api_token)

    def __init__(self, token: Optional[str] = None) -> None:
        self.token = token or None

    async def _handle(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        message: RestMessage,
        output: OutputChannel,
    ) -> None:
        try:
            await on_new_message(
                UserMessage(message.text, output, message.conversation_id, input_channel=CHANNEL, metadata=None)
            )
        except asyncio.CancelledError:
            logger.error("A REST message timed out or its client went away.")
        except Exception:
            # As Rasa's channel: the replies sent so far are returned. The text is not logged.
            logger.exception("Handling a REST message failed.")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("alimail_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Union[HTTPResponse, ResponseStream]:
            if self.token and not authorized(request.headers.get("authorization"), self.token):
                return error(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
            try:
                message = parse_body(request.body)
            except BadRequest as reason:
                return error(400, str(reason))
            if bool_arg(request, "stream", default=False):
                return response.stream(self._stream(on_new_message, message), content_type="text/event-stream")
            collector = _Collector(message.sender)
            await self._handle(on_new_message, message, collector)
            return response.json(collector.messages)

        return webhook

    def _stream(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], message: RestMessage
    ) -> Callable[[Any], Coroutine[Any, Any, None]]:
        async def stream(resp: Any) -> None:
            queue: "asyncio.Queue[Any]" = asyncio.Queue()

            async def produce() -> None:
                try:
                    await self._handle(on_new_message, message, _StreamCollector(queue, message.sender))
                finally:
                    await queue.put(_DONE)

            task = asyncio.ensure_future(produce())
            while (item := await queue.get()) is not _DONE:
                await resp.write(json.dumps(item) + "\n")
            await task

        return stream
