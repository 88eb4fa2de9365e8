"""DingTalk enterprise internal robot (HTTP callback mode) as a Rasa input channel.

Named in credentials.yml as ``channels.dingtalk.DingTalkInput: {}``; the callback URL is
``https://<host>/webhooks/dingtalk/webhook``.

Configuration (settings from the environment, core/settings.py, read when Rasa starts):

- ``DINGTALK_APP_SECRET``: the robot application's AppSecret, which signs every callback.
  Unset → every callback is refused with 503 (the server still starts).
- ``DINGTALK_WEBHOOK_HOSTS``: comma-separated hosts the replies may be POSTed to (the
  ``sessionWebhook`` comes from the request body, so anything else would be server-side
  request forgery). Default ``oapi.dingtalk.com,api.dingtalk.com``.
- ``DINGTALK_ALLOW_HTTP=true``: also allow ``http://`` webhooks (local tests only).

A callback is checked (signature and timestamp → 401, body → 400 or 413: anything malformed
is a 4xx, never a 500), deduplicated by ``msgId``, acknowledged at once and handled in the
background: the text goes to Rasa and the turn's replies are POSTed as one markdown message
to the conversation's ``sessionWebhook``. Buttons are shown as numbered choices; the next reply
"1", "2", … or a choice's title is turned into that button's payload.

The seen ``msgId``s and the offered choices are kept by ``channels.memory.expiring_store``: in
the production profile in Redis (so any Rasa process can serve any callback; Redis down → 503),
else in this process's memory.

Rasa gets ``metadata.chat_type`` ("group" for conversationType "2", else "direct") and
``metadata.dm_available = False`` (a group's sessionWebhook can only post to the group), so
the ticket actions answer with a privacy notice instead of personal details in a group.

Secrets and webhook URLs (which carry a session token) are never logged: only the host.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import re
import time
import unicodedata
from dataclasses import dataclass, field
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Dict,
    Hashable,
    Iterable,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
)
from urllib.parse import unquote, urlsplit

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.memory import ExpiringStore, MemoryStore, StateUnavailable, expiring_store, redis_client
from core.chat import CHAT_TYPE, DIRECT, DM_AVAILABLE, GROUP
from core.language import CHINESE, ENGLISH, detect_language, has_cjk
from core.phrases import privacy_notices, say, say_in_language_or_all
from core.settings import DEFAULT_DINGTALK_WEBHOOK_HOSTS, Settings, get_settings
from core.settings import parse_hosts as split_hosts

logger = logging.getLogger(__name__)

CHANNEL_NAME = "dingtalk"
SECRET_ENV = "DINGTALK_APP_SECRET"
HOSTS_ENV = "DINGTALK_WEBHOOK_HOSTS"
DEFAULT_WEBHOOK_HOSTS: Tuple[str, ...] = DEFAULT_DINGTALK_WEBHOOK_HOSTS

MAX_CLOCK_SKEW_MS = 3600 * 1000  # DingTalk: refuse callbacks whose timestamp is more than 1 hour off
SEND_TIMEOUT = 10.0  # seconds for one POST to the sessionWebhook
MAX_BODY_BYTES = 1024 * 1024
SEEN_TTL = 3 * 3600  # seconds a msgId is remembered (DingTalk retries within far less)
SEEN_MAX = 50_000
CHOICES_TTL = 24 * 3600  # seconds the last offered choices of a conversation are remembered
CHOICES_MAX = 50_000
MAX_ID_CHARS = 512  # msgId, conversationId, senderId, …: DingTalk's are far shorter
MAX_WEBHOOK_CHARS = 4096
MAX_TEXT_CHARS = 5000  # longer texts are cut: NLU needs no more, and a paste should still get an answer
MAX_SIGN_CHARS = 256
EXPIRED_WEBHOOK_ERRCODE = 300001
ACK: Dict[str, Any] = {"msgtype": "empty"}
CHOICE_HINT = "choice_hint"  # phrase key: "Reply with a number to choose." in the reply's language
TITLE_LENGTH = 40

Choice = Tuple[str, str]  # (title, payload)


# -- signature ---------------------------------------------------------------------
def compute_sign(secret: str, timestamp: str) -> str:
    """base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)), as DingTalk signs callbacks."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


_TIMESTAMP = re.compile(r"[0-9]{1,15}")  # ASCII digits only: str.isdigit() also takes "²" and "٣", which int() refuses
_SIGN = re.compile(r"[A-Za-z0-9+/=%]+")  # base64, possibly URL-encoded


def check_signature(
    secret: str, timestamp: Optional[str], sign: Optional[str], now_ms: Optional[int] = None
) -> Optional[str]:
    """Why the callback's `timestamp` and `sign` headers are not acceptable; None when they are.

    Anything in the headers (non-ASCII digits, bytes that are not UTF-8, a sign of any length)
    gives a reason, never an exception.
    """
    if not isinstance(timestamp, str) or not isinstance(sign, str) or not timestamp or not sign:
        return "missing timestamp or sign header"
    timestamp, sign = timestamp.strip(), sign.strip()
    if not _TIMESTAMP.fullmatch(timestamp):
        return "malformed timestamp"
    if len(sign) > MAX_SIGN_CHARS or not _SIGN.fullmatch(sign):
        return "malformed sign"
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - int(timestamp)) > MAX_CLOCK_SKEW_MS:
        return "timestamp more than 1 hour off"
    expected = compute_sign(secret, timestamp).encode("ascii")
    candidates = {sign}
    if "%" in sign:
        candidates.add(unquote(sign))
    # Only ASCII is compared (unquote may give anything); compare_digest wants equal types.
    if not any(c.isascii() and hmac.compare_digest(expected, c.encode("ascii")) for c in candidates):
        return "wrong signature"
    return None


# -- the callback body ---------------------------------------------------------------
@dataclass
class DingTalkMessage:
    msg_id: str
    text: str
    sender_id: str  # senderStaffId, else senderId: the Rasa conversation id
    staff_id: Optional[str]
    conversation_id: str
    conversation_type: str  # "1" one-to-one, "2" group
    session_webhook: str
    webhook_expires_ms: Optional[int] = None
    metadata: Dict[str, Any] = field(default_factory=dict)

    @property
    def is_group(self) -> bool:
        return self.conversation_type == "2"


METADATA_FIELDS = (
    "msgId",
    "msgtype",
    "createAt",
    "conversationType",
    "conversationId",
    "conversationTitle",
    "senderId",
    "senderStaffId",
    "senderNick",
    "senderCorpId",
    "isAdmin",
    "chatbotUserId",
    "isInAtList",
    "robotCode",
)


def _utf8_ok(value: str) -> bool:
    """Whether `value` can be written as UTF-8 (JSON may carry lone surrogates such as "\\ud800")."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _utf8(value: str, key: str) -> str:
    if not _utf8_ok(value):
        raise ValueError(f"invalid text in field {key!r}")
    return value


def _optional_string(data: Dict[str, Any], key: str, max_chars: int = MAX_ID_CHARS) -> Optional[str]:
    """The field as a trimmed string (a string or an integer in the JSON); None when absent, empty or
    of another type; ValueError when longer than `max_chars` or not writable as UTF-8."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        return None
    text = str(value).strip()
    if len(text) > max_chars:
        raise ValueError(f"field {key!r} is too long")
    return _utf8(text, key)


def _string(data: Dict[str, Any], key: str, max_chars: int = MAX_ID_CHARS) -> str:
    value = _optional_string(data, key, max_chars)
    if value is None:
        raise ValueError(f"missing or invalid field {key!r}")
    return value


def _metadata_value(value: Any) -> bool:
    """Whether a METADATA_FIELDS value is kept: a scalar, a string short and writable as UTF-8."""
    if isinstance(value, str):
        return len(value) <= MAX_ID_CHARS and _utf8_ok(value)
    return value is None or isinstance(value, (bool, int))


def message_text(data: Dict[str, Any]) -> str:
    """The user's words: text.content; the text parts of rich text; the recognized speech of audio.

    At most MAX_TEXT_CHARS characters; ValueError when the text can't be written as UTF-8.
    """
    msgtype = data.get("msgtype")
    if msgtype == "text":
        text = data.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("content"), str):
            raise ValueError("missing or invalid field 'text.content'")
        words = text["content"]
    else:
        content = data.get("content")
        if not isinstance(content, dict):
            content = {}
        words = ""  # a picture, file, …: the bot answers an empty message with what it can do
        if msgtype == "richText" and isinstance(content.get("richText"), list):
            words = " ".join(
                part["text"].strip()
                for part in content["richText"]
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            )
        elif msgtype == "audio" and isinstance(content.get("recognition"), str):
            words = content["recognition"]
    return _utf8(words.strip()[:MAX_TEXT_CHARS].strip(), "text")


def parse_callback(body: bytes) -> DingTalkMessage:
    """The callback's JSON body as a message; ValueError (with a short reason) when malformed."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; RecursionError: "[[[[…"
        raise ValueError("body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("body is not a JSON object")
    _string(data, "msgtype")
    msg_id = _string(data, "msgId")
    conversation_id = _string(data, "conversationId")
    webhook = _string(data, "sessionWebhook", MAX_WEBHOOK_CHARS)
    staff_id = _optional_string(data, "senderStaffId")
    sender_id = staff_id or _optional_string(data, "senderId")
    if not sender_id:
        raise ValueError("missing field 'senderStaffId' or 'senderId'")
    # Required: a message of unknown kind must not be taken for a one-to-one chat (privacy in groups).
    conversation_type = _string(data, "conversationType")
    if conversation_type not in ("1", "2"):
        raise ValueError("invalid field 'conversationType'")
    expires = data.get("sessionWebhookExpiredTime")
    expires_ms = int(expires) if isinstance(expires, int) and not isinstance(expires, bool) else None
    metadata: Dict[str, Any] = {
        "dingtalk": {key: data[key] for key in METADATA_FIELDS if key in data and _metadata_value(data[key])},
        # Read by the ticket actions (actions/privacy.py): no personal details in a group, and a
        # group's sessionWebhook can't reach the sender alone.
        CHAT_TYPE: GROUP if conversation_type == "2" else DIRECT,
        DM_AVAILABLE: False,
    }
    return DingTalkMessage(
        msg_id=msg_id,
        text=message_text(data),
        sender_id=sender_id,
        staff_id=staff_id,
        conversation_id=conversation_id,
        conversation_type=conversation_type,
        session_webhook=webhook,
        webhook_expires_ms=expires_ms,
        metadata=metadata,
    )


# -- where replies may go ----------------------------------------------------------
def parse_hosts(value: Optional[str]) -> Tuple[str, ...]:
    """DINGTALK_WEBHOOK_HOSTS as the settings read it: comma-separated hosts, the default when empty."""
    return split_hosts(value or "") or DEFAULT_WEBHOOK_HOSTS


def webhook_host(url: str) -> str:
    """The host of `url`, for logs (the URL itself carries a session token)."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def webhook_allowed(url: str, hosts: Iterable[str], allow_http: bool = False) -> bool:
    """True when `url` is https (or http when allowed) on one of `hosts`, without user info."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme.lower() not in schemes or parts.username is not None or parts.password is not None:
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    return bool(host) and host in {h.lower().rstrip(".") for h in hosts}


# -- numbered choices ----------------------------------------------------------------
_NUMBER = re.compile(r"^[#(\[]?\s*(\d{1,3})\s*[.)\]、:]?$")


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"\s+", " ", text).strip().casefold()
    return text.rstrip(".!。！ ")


def translate_choice(text: str, choices: Sequence[Choice]) -> str:
    """The payload of the choice the user picked by number ("2") or by title; else `text` unchanged."""
    if not choices or not text:
        return text
    normalized = _normalize(text)
    number = _NUMBER.match(normalized)
    if number:
        index = int(number.group(1))
        return choices[index - 1][1] if 1 <= index <= len(choices) else text
    for title, payload in choices:
        if _normalize(title) == normalized:
            return payload
    return text


# -- markdown ----------------------------------------------------------------------
_INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def to_markdown(text: str) -> str:
    """Bot text as DingTalk markdown: line breaks kept (hard breaks), inline code as plain text.

    DingTalk's markdown has no code spans and joins single newlines, so those two are converted;
    everything else (**bold**, links, lists) is passed through as the bot wrote it.
    """
    text = _INLINE_CODE.sub(r"\1", text.replace("\r\n", "\n").strip())
    lines = [line.rstrip() for line in text.split("\n")]
    out: List[str] = []
    for index, line in enumerate(lines):
        if index:
            out.append("  \n" if line and lines[index - 1] else "\n")
        out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "".join(out))


def plain_title(markdown: str) -> str:
    """A short plain-text title (the notification text) from the first line of the reply."""
    for line in markdown.split("\n"):
        line = _LINK.sub(r"\1", line).replace("**", "").replace("__", "").replace("`", "")
        line = re.sub(r"^\s*(#+|[-*>]|\d+\.)\s+", "", line).strip(" *_")
        if line:
            return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"
    return "Reply"


def render_turn(messages: Sequence[Dict[str, Any]]) -> Tuple[str, List[Choice]]:
    """A turn's bot messages as one markdown text (a paragraph each), and the buttons as numbered choices."""
    paragraphs: List[str] = []
    choices: List[Choice] = []
    notices, notices_shown = privacy_notices(), set()
    for message in messages:
        parts: List[str] = []
        text = message.get("text")
        if text in notices:
            # each personal reply of a turn comes with the notice (actions/privacy.py, the form's
            # questions): the group reads it once
            if text in notices_shown:
                text = None
            else:
                notices_shown.add(text)
        if text:
            parts.append(to_markdown(str(text)))
        if message.get("image"):
            parts.append(f"![image]({message['image']})")
        if message.get("attachment"):
            parts.append(to_markdown(str(message["attachment"])))
        custom = message.get("custom")
        # Only custom["text"]: a custom `direct_message` (actions/privacy.py) is never shown, as
        # DingTalk can't send anything to the sender alone from a group.
        if isinstance(custom, dict) and isinstance(custom.get("text"), str):
            parts.append(to_markdown(custom["text"]))
        lines = []
        for button in message.get("buttons") or []:
            if not isinstance(button, dict):
                continue
            title = str(button.get("title") or button.get("payload") or "").strip()
            payload = str(button.get("payload") or title).strip()
            if not title:
                continue
            choices.append((title, payload))
            lines.append(f"{len(choices)}. {title}")
        if lines:
            parts.append("\n".join(lines))
        if parts:
            paragraphs.append("\n\n".join(parts))
    if choices:
        # The hint follows the language the bot answered in (the slot is not visible here).
        language = CHINESE if has_cjk(" ".join(paragraphs)) else ENGLISH
        paragraphs.append(f"_{say(CHOICE_HINT, language)}_")
    return "\n\n".join(paragraphs), choices


def reply_payload(markdown: str, message: DingTalkMessage) -> Dict[str, Any]:
    """The sessionWebhook body: markdown; in a group chat it @-mentions the sender."""
    payload: Dict[str, Any] = {"msgtype": "markdown", "markdown": {"title": plain_title(markdown), "text": markdown}}
    if message.is_group and message.staff_id:
        payload["at"] = {"atUserIds": [message.staff_id], "isAtAll": False}
    return payload


# -- output ------------------------------------------------------------------------
class DingTalkCollectingOutput(CollectingOutputChannel):
    """Collects a turn's bot messages; they are sent together once the turn is over."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME


async def post_reply(url: str, payload: Dict[str, Any], timeout: float = SEND_TIMEOUT) -> bool:
    """POST `payload` to the sessionWebhook; True when DingTalk accepted it. Never raises."""
    host = webhook_host(url)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.post(url, json=payload, allow_redirects=False) as resp:
                status = resp.status
                body = await resp.text()
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        logger.warning("DingTalk reply to %s failed: %s", host, type(error).__name__)
        return False
    if status != 200:
        logger.warning("DingTalk reply to %s answered HTTP %s", host, status)
        return False
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        answer = {}
    errcode = answer.get("errcode", 0) if isinstance(answer, dict) else 0
    if errcode == EXPIRED_WEBHOOK_ERRCODE:
        logger.warning("DingTalk sessionWebhook expired (errcode %s); reply dropped", errcode)
        return False
    if errcode not in (0, None):
        logger.warning("DingTalk refused the reply: errcode %s (%s)", errcode, str(answer.get("errmsg"))[:200])
        return False
    return True


# -- the channel -------------------------------------------------------------------
def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


class DingTalkInput(InputChannel):
    """DingTalk enterprise internal robot, HTTP callback mode: POST /webhooks/dingtalk/webhook."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(
        cls, credentials: Optional[Dict[str, Any]], settings: Optional[Settings] = None
    ) -> "DingTalkInput":
        """The channel from the settings (DINGTALK_*); credentials.yml holds no DingTalk keys."""
        credentials = credentials or {}
        settings = settings or get_settings()
        for key in ("app_secret", "app_secret_env"):
            if key in credentials:
                logger.warning("DingTalk: '%s' in credentials.yml is ignored; set %s instead", key, SECRET_ENV)
        secret = settings.dingtalk_app_secret
        channel = cls(secret, settings.dingtalk_webhook_hosts, settings.dingtalk_allow_http)
        if settings.alimail_profile == "production":
            # Every Rasa process sees the same msgIds and offered choices (README, "Production profile").
            client = redis_client(settings)
            channel.seen = expiring_store(settings, "dingtalk:seen", SEEN_MAX, SEEN_TTL, client)
            channel.choices = expiring_store(settings, "dingtalk:choices", CHOICES_MAX, CHOICES_TTL, client)
        if secret is None:
            logger.warning("DingTalk channel: %s is unset, so every callback is refused (503)", SECRET_ENV)
        return channel

    def __init__(
        self,
        app_secret: Optional[str],
        webhook_hosts: Sequence[str] = DEFAULT_WEBHOOK_HOSTS,
        allow_http: bool = False,
        send_timeout: float = SEND_TIMEOUT,
    ) -> None:
        self.app_secret = app_secret
        self.webhook_hosts = tuple(webhook_hosts)
        self.allow_http = allow_http
        self.send_timeout = send_timeout
        # This process's memory unless from_credentials (production profile) or a test sets others.
        self.seen: ExpiringStore = MemoryStore(SEEN_MAX, SEEN_TTL)
        self.choices: ExpiringStore = MemoryStore(CHOICES_MAX, CHOICES_TTL)
        self._locks: Dict[Hashable, List[Any]] = {}
        self._tasks: Set["asyncio.Task[None]"] = set()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("dingtalk_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.app_secret is not None})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                return await self.accept(request, on_new_message)
            except Exception:  # a bug: never a stack trace to the caller (every malformed input is a 4xx)
                logger.exception("DingTalk callback failed")
                return _error(500, "internal error")

        return webhook

    async def accept(self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        """Check the callback, acknowledge it, and handle the message in the background."""
        if self.app_secret is None:
            return _error(503, "DingTalk channel is not configured")
        problem = check_signature(self.app_secret, request.headers.get("timestamp"), request.headers.get("sign"))
        if problem:
            logger.warning("DingTalk callback refused: %s", problem)
            return _error(401, "invalid signature or timestamp")
        body = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "body too large")
        try:
            message = parse_callback(body)
        except ValueError as error:
            logger.warning("DingTalk callback refused: %s", error)
            return _error(400, str(error))
        if not webhook_allowed(message.session_webhook, self.webhook_hosts, self.allow_http):
            logger.error(
                "DingTalk message %s dropped: sessionWebhook host %r is not allowed (%s)",
                message.msg_id,
                webhook_host(message.session_webhook),
                HOSTS_ENV,
            )
            return response.json(ACK)
        try:
            new = await self.seen.add_if_new(message.msg_id)
        except StateUnavailable as error:
            # Unchecked, a redelivery could be answered twice, and Rasa's locks are in the same Redis anyway:
            # acknowledged, the message is not handled and the user is asked to send it again (issue 17).
            logger.error("DingTalk message %s not handled, the user is asked to resend it: %s", message.msg_id, error)
            self._in_background(self.ask_to_resend(message))
            return response.json(ACK)
        if not new:
            logger.info("DingTalk message %s delivered again; ignored", message.msg_id)
            return response.json(ACK)
        self._in_background(self.process(message, on_new_message))
        return response.json(ACK)

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def ask_to_resend(self, message: DingTalkMessage) -> None:
        """The phrase `part_unavailable` (README, "When a part fails") on the message's sessionWebhook, in
        the message's language (both when it says nothing about it). Never raises."""
        text = say_in_language_or_all("part_unavailable", detect_language(message.text))
        await post_reply(message.session_webhook, reply_payload(text, message), self.send_timeout)

    @contextlib.asynccontextmanager
    async def _conversation(self, key: Hashable) -> AsyncIterator[None]:
        """One turn at a time per conversation and sender, in arrival order."""
        entry = self._locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(key, None)

    async def process(self, message: DingTalkMessage, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Rasa's turn for `message`, then its replies as one markdown message. Never raises."""
        key = (message.conversation_id, message.sender_id)
        choices_key = json.dumps(key)
        try:
            async with self._conversation(key):
                text = translate_choice(message.text, await self._offered(choices_key))
                collector = DingTalkCollectingOutput()
                await on_new_message(
                    UserMessage(
                        text,
                        collector,
                        message.sender_id,
                        input_channel=self.name(),
                        message_id=message.msg_id,
                        metadata=message.metadata,
                    )
                )
                markdown, choices = render_turn(collector.messages)
                await self._offer(choices_key, choices)
                if not markdown:
                    return
                if message.webhook_expires_ms is not None and message.webhook_expires_ms <= time.time() * 1000:
                    logger.warning("DingTalk sessionWebhook of message %s expired; reply dropped", message.msg_id)
                    return
                await post_reply(message.session_webhook, reply_payload(markdown, message), self.send_timeout)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("DingTalk message %s could not be handled", message.msg_id)

    async def _offered(self, key: str) -> List[Choice]:
        """The choices last offered in the conversation (any process may have offered them)."""
        try:
            value = await self.choices.get(key)
        except StateUnavailable as error:
            logger.error("DingTalk choices unavailable, the reply is passed on as typed: %s", error)
            return []
        if not isinstance(value, list):
            return []
        return [
            (title, payload)
            for title, payload in (item for item in value if isinstance(item, (list, tuple)) and len(item) == 2)
            if isinstance(title, str) and isinstance(payload, str)
        ]

    async def _offer(self, key: str, choices: List[Choice]) -> None:
        try:
            if choices:
                await self.choices.set(key, [list(choice) for choice in choices])
            else:
                await self.choices.discard(key)
        except StateUnavailable as error:
            logger.error("DingTalk choices not kept: %s", error)
