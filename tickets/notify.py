"""Tell staff about a new ticket through a webhook, in the background.

Configured by settings (environment variables, read once: core/settings.py):

- ``TICKET_WEBHOOK_URL``: where to POST; unset or empty → no notification.
- ``TICKET_WEBHOOK_FORMAT``: ``json`` (default), ``dingtalk`` (custom group robot, markdown
  message) or ``slack`` (incoming webhook, Block Kit section).
- ``TICKET_WEBHOOK_SECRET``: signs the notification. ``json``: the headers ``X-Alimail-Timestamp``
  (Unix seconds) and ``X-Alimail-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``
  over the exact body bytes (README, "Tickets", has the receiver's check). ``dingtalk``: the robot's
  signing secret ("加签"): ``timestamp`` (ms) and ``sign`` query parameters are appended to the URL.
  ``slack``: not used (an incoming webhook's URL is its credential).
- ``TICKET_WEBHOOK_TIMEOUT``: seconds per attempt (default 5, at most 300).
- ``TICKET_WEBHOOK_RETRIES``: attempts in total (default 3, at most 10). Connection errors, timeouts,
  HTTP 429 and 5xx are retried after a short backoff; other answers are final.
- ``STAFF_LANGUAGE``: language of the DingTalk/Slack messages' labels (``en`` default, ``zh``);
  the user's own words stay as written, and the conversation's language is one of the fields.

`notify_ticket_created` never raises and never waits for the network: the POST runs in a
daemon thread. Redirects are not followed (a 3xx answer is a failed delivery): the ticket goes
to the configured URL or nowhere, never to a host a redirect names. Webhook URLs and secrets are
credentials, so they are never logged (only the scheme and host of the URL).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import threading
import time
import urllib.parse
from typing import Any, Callable, Dict, List, Optional, Tuple

import requests

from core.knowledge import knowledge
from core.phrases import say
from core.secrets import mask_secrets
from core.settings import MAX_WEBHOOK_ATTEMPTS, WEBHOOK_FORMATS, Settings, get_settings
from core.ticket_draft import priority_label, queue_label
from tickets.store import Ticket

logger = logging.getLogger("tickets.notify")

EVENT = "ticket.created"
FORMATS = WEBHOOK_FORMATS
DEFAULT_TIMEOUT = Settings.__fields__["ticket_webhook_timeout"].default
DEFAULT_ATTEMPTS = Settings.__fields__["ticket_webhook_retries"].default
MAX_ATTEMPTS = MAX_WEBHOOK_ATTEMPTS
# Wait before the 2nd, 3rd, ... attempt; the last value repeats.
BACKOFF_SECONDS: Tuple[float, ...] = (0.5, 1.0)
# Longest Retry-After (HTTP 429/503) that is honoured; longer ones are cut to this.
MAX_RETRY_AFTER = 5.0
# User text is cut to this many characters in chat messages (Slack: 3000 per section).
MAX_DESCRIPTION = 1500
MAX_FIELD = 200

# The JSON format's signature (TICKET_WEBHOOK_SECRET): see json_signature().
SIGNATURE_HEADER = "X-Alimail-Signature"
TIMESTAMP_HEADER = "X-Alimail-Timestamp"

FACT_FIELDS = (
    "id",
    "created_at",
    "status",
    "priority",
    "queue",
    "problem",
    "error_code",
    "steps_tried",
    "is_postmaster",
    "contact_email",
    "channel",
    "language",
    "description",
)


# -- configuration ---------------------------------------------------------------
class Config:
    def __init__(
        self,
        url: str,
        fmt: str = "json",
        secret: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT,
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self.url = url
        self.fmt = fmt
        self.secret = secret
        self.timeout = timeout
        self.attempts = attempts

    def __repr__(self) -> str:  # no URL, no secret
        return (
            f"Config(url={redact_url(self.url)!r}, fmt={self.fmt!r}, secret={'set' if self.secret else None}, "
            f"timeout={self.timeout}, attempts={self.attempts})"
        )


def load_config(settings: Optional[Settings] = None) -> Optional[Config]:
    """The webhook configuration of the settings; None when no (usable) URL is set."""
    settings = settings or get_settings()
    url = settings.ticket_webhook_url
    if not url:
        return None
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        logger.warning("TICKET_WEBHOOK_URL is not an http(s) URL; no ticket notifications are sent")
        return None
    return Config(
        url,
        settings.ticket_webhook_format,
        settings.ticket_webhook_secret,
        settings.ticket_webhook_timeout,
        settings.ticket_webhook_retries,
    )


def redact_url(url: str) -> str:
    """Only scheme and host: webhook paths and queries carry tokens."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{host}{port}/…"


# -- DingTalk signing -----------------------------------------------------------------
def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The `sign` parameter of a DingTalk robot: urlencode(base64(HMAC-SHA256(secret, "ts\\nsecret")))."""
    message = f"{timestamp_ms}\n{secret}".encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode("ascii"))


def signed_url(url: str, secret: str, timestamp_ms: Optional[int] = None) -> str:
    """`url` with `timestamp` and `sign` appended (keeping its own query, e.g. access_token)."""
    stamp = int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms)
    extra = f"timestamp={stamp}&sign={dingtalk_sign(secret, stamp)}"
    base, hash_mark, fragment = url.partition("#")
    separator = "" if base.endswith(("?", "&")) else ("&" if "?" in base else "?")
    return f"{base}{separator}{extra}{hash_mark}{fragment}"


# -- JSON signing ---------------------------------------------------------------------
def json_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Alimail-Signature of `body`: `sha256=` + hex HMAC-SHA256(secret, b"<timestamp>." + body).

    The timestamp (X-Alimail-Timestamp, Unix seconds) is signed with the body, so a receiver that
    refuses old timestamps is not fooled by a replayed notification."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_headers(secret: str, body: bytes, timestamp: Optional[int] = None) -> Dict[str, str]:
    """The JSON format's signing headers for `body` (now, unless `timestamp` is given)."""
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: json_signature(secret, stamp, body)}


# -- payloads ---------------------------------------------------------------------
def ticket_facts(ticket: Ticket) -> Dict[str, Any]:
    """What a notification tells: no transcript, no sender id, no attachments; secrets masked."""
    data = ticket.to_dict()
    facts = {name: data[name] for name in FACT_FIELDS}
    # The store masks what it keeps; masking again here costs little and protects the chat rooms.
    facts["description"] = mask_secrets(facts["description"] or "")
    return facts


def json_payload(ticket: Ticket) -> Dict[str, Any]:
    return {"event": EVENT, "ticket": ticket_facts(ticket)}


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def _clean(value: Any, limit: int) -> str:
    """Text without control / bidi characters, normalised newlines, cut to `limit` characters."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


# Inline markdown/HTML syntax: emphasis, code, links/images, HTML tags, tables, strike-through.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>~|])")
# Block syntax that only counts at the start of a line: headings, quotes, lists, rules, setext.
_MD_LINE_START = re.compile(r"^(\s*)(?:([#>+=-])|(\d+)([.)]))")


def _escape_md_line(line: str) -> str:
    line = _MD_INLINE.sub(r"\\\1", line)
    # "# x" → "\# x"; "1. x" → "1\. x" (a backslash before a digit would be shown literally)
    return _MD_LINE_START.sub(
        lambda m: m.group(1) + (f"\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\{m.group(4)}"), line
    )


def escape_markdown(value: Any, limit: int = MAX_FIELD) -> str:
    """Markdown-safe single line: markdown/HTML-active characters backslash-escaped."""
    return _escape_md_line(_clean(value, limit).replace("\n", " "))


def _markdown_block(value: Any, limit: int = MAX_DESCRIPTION) -> str:
    """Multi-line user text as a quote whose lines can't start headings, lists or fences."""
    lines = [_escape_md_line(line) for line in _clean(value, limit).split("\n")]
    # Two trailing spaces: a hard line break, so the user's lines stay lines.
    text = "  \n".join(f"> {line}" if line.strip() else ">" for line in lines)
    return text if text.strip("> \n") else "> —"


def escape_mrkdwn(value: Any, limit: int = MAX_FIELD, multiline: bool = False) -> str:
    """Slack mrkdwn-safe text: &, <, > escaped as Slack asks (no links, no <!channel>/<@user>
    mentions), and plain @channel / @here / @everyone defused with a word joiner."""
    text = _clean(value, limit)
    if not multiline:
        text = text.replace("\n", " ")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"@(channel|here|everyone)\b", "@\u2060\\1", text, flags=re.IGNORECASE)


def staff_language(settings: Optional[Settings] = None) -> str:
    """The language of staff notifications: STAFF_LANGUAGE if the knowledge file has it, else its default."""
    wanted = (settings or get_settings()).staff_language
    kb = knowledge()
    return wanted if wanted is not None and wanted in kb.languages else kb.default_language


def _yes_no(value: Optional[bool], lang: str) -> str:
    return say("staff_unknown" if value is None else ("staff_yes" if value else "staff_no"), lang)


def _problem(ticket: Ticket, lang: str) -> str:
    if not ticket.problem:
        return "—"
    try:
        return knowledge().problem(ticket.problem).title.get(lang)
    except KeyError:  # a problem since removed from the knowledge file
        return ticket.problem


def _summary_rows(ticket: Ticket, escape: Callable[..., str], lang: str) -> List[Tuple[str, str]]:
    steps = ", ".join(str(step) for step in ticket.steps_tried) if ticket.steps_tried else "—"
    conversation_language = f"language_name_{ticket.language}"
    rows = [
        ("staff_ticket", ticket.id),
        ("staff_created", ticket.created_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()),
        ("staff_status", ticket.status),
        ("staff_priority", priority_label(knowledge(), ticket.priority, lang)),
        ("staff_queue", queue_label(ticket.queue, lang)),
        ("staff_problem", _problem(ticket, lang)),
        ("staff_error_code", ticket.error_code or "—"),
        ("staff_steps_tried", steps),
        ("staff_postmaster", _yes_no(ticket.is_postmaster, lang)),
        ("staff_contact", ticket.contact_email),
        ("staff_channel", ticket.channel),
        (
            "staff_language",
            say(conversation_language, lang) if conversation_language in knowledge().phrases else ticket.language,
        ),
    ]
    return [
        (say(key, lang), escape(value, 500) if key == "staff_steps_tried" else escape(value)) for key, value in rows
    ]


def _title(ticket: Ticket, lang: str) -> str:
    return say(
        "staff_new_ticket",
        lang,
        id=ticket.id,
        priority=priority_label(knowledge(), ticket.priority, lang),
        queue=queue_label(ticket.queue, lang),
    )


def dingtalk_payload(ticket: Ticket) -> Dict[str, Any]:
    lang = staff_language()
    rows = _summary_rows(ticket, escape_markdown, lang)
    lines = [f"### {escape_markdown(_title(ticket, lang))}", ""]
    lines += [f"- **{label}:** {value}" for label, value in rows]
    lines += ["", f"**{say('staff_description', lang)}:**", "", _markdown_block(mask_secrets(ticket.description))]
    return {"msgtype": "markdown", "markdown": {"title": _clean(_title(ticket, lang), 100), "text": "\n".join(lines)}}


def slack_payload(ticket: Ticket) -> Dict[str, Any]:
    lang = staff_language()
    rows = _summary_rows(ticket, escape_mrkdwn, lang)
    title = escape_mrkdwn(_title(ticket, lang))
    body = "\n".join(
        [f"*{title}*"]
        + [f"*{label}:* {value}" for label, value in rows]
        + [f"*{say('staff_description', lang)}:*"]
        + [
            f">{line}"
            for line in escape_mrkdwn(mask_secrets(ticket.description), MAX_DESCRIPTION, multiline=True).split("\n")
        ]
    )
    return {"text": title, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": body}}]}


BUILDERS = {"json": json_payload, "dingtalk": dingtalk_payload, "slack": slack_payload}


def build_payload(ticket: Ticket, fmt: str = "json") -> Dict[str, Any]:
    return BUILDERS[fmt](ticket)


# -- delivery -------------------------------------------------------------------------
def _backoff(attempt: int, response: Optional[requests.Response]) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based)."""
    delay = BACKOFF_SECONDS[min(attempt - 1, len(BACKOFF_SECONDS) - 1)]
    if response is not None:
        retry_after = (response.headers.get("Retry-After") or "").strip()
        if retry_after.isdigit():
            delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
    return delay


def _rejected_by_dingtalk(response: requests.Response) -> Optional[str]:
    """DingTalk answers 200 with {"errcode": ≠0, "errmsg": ...} for a refused message."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("errcode") not in (None, 0):
        return f"errcode {body.get('errcode')}: {str(body.get('errmsg'))[:200]}"
    return None


def deliver(config: Config, payload: Dict[str, Any], ticket_id: str = "?") -> bool:
    """POST `payload`, retrying transient failures; True when delivered. Never raises, never follows a redirect."""
    target = redact_url(config.url)
    problem = "not attempted"
    try:  # the exact bytes sent are the bytes signed
        body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as error:
        logger.error("ticket %s: notification not sent: %s", ticket_id, type(error).__name__)
        return False
    for attempt in range(1, config.attempts + 1):
        response: Optional[requests.Response] = None
        retryable = True
        try:
            url = config.url
            headers = {"User-Agent": "tickets-notify/1", "Content-Type": "application/json"}
            if config.secret and config.fmt == "dingtalk":
                url = signed_url(config.url, config.secret)
            elif config.secret and config.fmt == "json":
                headers.update(signature_headers(config.secret, body))  # a fresh timestamp per attempt
            response = requests.post(url, data=body, timeout=config.timeout, headers=headers, allow_redirects=False)
            if 300 <= response.status_code < 400:
                problem, retryable = f"HTTP {response.status_code} (redirects are not followed)", False
            elif response.status_code < 300:
                rejected = _rejected_by_dingtalk(response) if config.fmt == "dingtalk" else None
                if rejected is None:
                    logger.info("ticket %s: notification delivered to %s (attempt %d)", ticket_id, target, attempt)
                    return True
                problem, retryable = f"refused ({rejected})", False
            else:
                problem = f"HTTP {response.status_code}"
                retryable = response.status_code == 429 or response.status_code >= 500
        except (requests.ConnectionError, requests.Timeout) as error:
            # The exception text contains the URL (with its token): only the class is logged.
            problem = type(error).__name__
        except Exception as error:  # a notification must never break anything
            problem, retryable = f"unexpected {type(error).__name__}", False
        finally:
            if response is not None:
                response.close()
        if not retryable or attempt == config.attempts:
            break
        logger.debug("ticket %s: notification attempt %d failed (%s); retrying", ticket_id, attempt, problem)
        time.sleep(_backoff(attempt, response))
    logger.error("ticket %s: notification to %s failed after %d attempt(s): %s", ticket_id, target, attempt, problem)
    return False


def notify_ticket_created(ticket: Ticket) -> Optional[threading.Thread]:
    """Send the ticket.created notification in a daemon thread and return it (None: nothing to send).

    Never raises, never blocks on the network.
    """
    try:
        config = load_config()
        if config is None:
            return None
        ticket_id = ticket.id
        payload = build_payload(ticket, config.fmt)  # now: the ticket as it was created

        def run() -> None:
            try:
                deliver(config, payload, ticket_id)
            except Exception:  # deliver doesn't raise; belt and braces
                logger.error("ticket %s: notification crashed", ticket_id)

        thread = threading.Thread(target=run, name=f"ticket-notify-{ticket_id}", daemon=True)
        thread.start()
        return thread
    except Exception as error:
        logger.error("ticket notification not started: %s", type(error).__name__)
        return None
