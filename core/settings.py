"""Every setting the Python code takes from the environment: read once, typed, one default each.

    settings = get_settings()                          # this process's settings (os.environ, read once)
    Settings.from_environ({"TICKETS_DB_URL": "..."})   # from any mapping (tests, tools)
    Settings(tickets_db_url="...")                     # from values

The variable of a field is its name in upper case (`tickets_db_url` is TICKETS_DB_URL); the
README's "Settings" table lists them all, and tests/unit/core/test_settings.py keeps the two in
sync. A value that is empty or only spaces counts as unset (docker-compose passes `${VAR:-}` as
""), and spaces around a value are dropped, except for the password (taken as Rasa takes it).
Booleans accept 1/true/yes/on and 0/false/no/off (any case); any other value, a number that is
not one or out of range, or an unknown choice stops the process with the variable's name.

Modules receive a `Settings`; the composition points (a channel's `from_credentials`, a command's
`main`, the action server's store) call `get_settings()`. This is the only module that reads
`os.environ`.

    python -m core.settings tickets-db-url

prints the ticket database URL (`Settings.tickets_database_url`): for scripts/run.sh and
deploy/docker-entrypoint.sh, so the shell follows the same rule as the Python code.
"""

from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Literal, Mapping, Optional, Tuple

from pydantic import BaseSettings, Field, ValidationError, root_validator, validator
from pydantic.fields import ModelField

PROJECT_ROOT = Path(__file__).resolve().parent.parent

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")

DEFAULT_KNOWLEDGE_PATH = Path("knowledge/alimail_security.yml")
DEFAULT_TICKETS_DB_PATH = PROJECT_ROOT / "var" / "tickets.sqlite3"
DEFAULT_TRACKERS_DB_PATH = PROJECT_ROOT / "var" / "trackers.sqlite3"  # endpoints.yml's db, from the project folder
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DINGTALK_WEBHOOK_HOSTS: Tuple[str, ...] = ("oapi.dingtalk.com", "api.dingtalk.com")
WEBHOOK_FORMATS = ("json", "dingtalk", "slack")
MAX_WEBHOOK_ATTEMPTS = 10
# The assistant's priorities (the guide's severities) → RT's numeric priority (RT_PRIORITIES).
DEFAULT_RT_PRIORITIES = "High:80,Medium:50,Low:20"
# The ticket API: the name (author) of the deprecated single TICKETS_API_TOKEN, and what a token's name may be.
LEGACY_TICKETS_API_TOKEN_NAME = "staff"
TOKEN_NAME = re.compile(r"[^\s,:]{1,128}")

Profile = Literal["embedded", "production"]
TicketBackendName = Literal["builtin", "rt", "jira", "servicenow"]
WebhookFormat = Literal["json", "dingtalk", "slack"]


class SettingsError(ValueError):
    """A variable has a value that can't be used; the message names it and says why."""


def parse_bool(value: object) -> bool:
    """The one boolean parser: 1/true/yes/on → True, 0/false/no/off → False (any case); else ValueError."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not a boolean: use {'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)}")


def parse_hosts(value: str) -> Tuple[str, ...]:
    """Comma-separated host names, lower case, without spaces or a trailing dot; empty items dropped."""
    return tuple(h.strip().lower().rstrip(".") for h in value.split(",") if h.strip())


def parse_origins(value: str) -> Tuple[str, ...]:
    """Comma-separated web origins (`scheme://host[:port]`) written as browsers send them in `Origin`:
    lower case, no default port, no path; empty items dropped. ValueError names a bad item."""
    from urllib.parse import urlsplit

    origins: List[str] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            parts = urlsplit(item)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if (
            parts is None
            or parts.scheme.lower() not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
        ):
            raise ValueError(f"{item!r} is not an origin (scheme://host[:port], e.g. https://portal.corp.example)")
        scheme, host = parts.scheme.lower(), parts.hostname
        host = f"[{host}]" if ":" in host else host
        default_port = 80 if scheme == "http" else 443
        origins.append(f"{scheme}://{host}" + (f":{port}" if port is not None and port != default_port else ""))
    return tuple(dict.fromkeys(origins))


def parse_named_tokens(value: str) -> Tuple[Tuple[str, str], ...]:
    """`name:token,name:token` → ((name, token), …): spaces around items dropped, empty items skipped.

    A name is 1 to 128 characters without spaces, commas or colons; a token is anything but a comma
    or a space. Names and tokens must each be unique. The ValueError never shows a token.
    """
    pairs: List[Tuple[str, str]] = []
    for number, item in enumerate((part.strip() for part in value.split(",")), start=1):
        if not item:
            continue
        name, colon, token = item.partition(":")
        if not colon or not TOKEN_NAME.fullmatch(name) or not token or any(c.isspace() for c in token):
            raise ValueError(f"item {number} is not name:token (a name of 1 to 128 characters, no spaces)")
        pairs.append((name, token))
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"name(s) given twice: {', '.join(repeated)}")
    if len({token for _, token in pairs}) < len(pairs):
        raise ValueError("two names share one token: give each name its own")
    return tuple(pairs)


def parse_priorities(value: str) -> Tuple[Tuple[str, int], ...]:
    """`High:80,Medium:50,Low:20` → (("High", 80), …): each of the assistant's priorities (High,
    Medium, Low; any case) to a helpdesk's number 0 to 100. Every one must be given once."""
    pairs: Dict[str, int] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        name, colon, number = item.partition(":")
        name = name.strip().capitalize()
        if not colon or name not in ("High", "Medium", "Low") or not number.strip().isdigit():
            raise ValueError(f"{item!r} is not High|Medium|Low:number")
        if int(number) > 100 or name in pairs:
            raise ValueError(f"{item!r}: a number 0 to 100, each priority once")
        pairs[name] = int(number)
    if set(pairs) != {"High", "Medium", "Low"}:
        raise ValueError("give High, Medium and Low, e.g. High:80,Medium:50,Low:20")
    return tuple((name, pairs[name]) for name in ("High", "Medium", "Low"))


def helpdesk_url(value: str) -> str:
    """A helpdesk's base URL: https, or http only to a loopback host (a local test helpdesk); no
    user:password@ (credentials have their own variables), no query or fragment. Ends with `/`."""
    from urllib.parse import urlsplit

    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise ValueError("not an http(s) URL without credentials, e.g. https://rt.example.com/")
    if parts.query or parts.fragment:
        raise ValueError("a base URL takes no query or fragment")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("use https (http only for a helpdesk on 127.0.0.1/localhost)")
    return value.strip().rstrip("/") + "/"


def _secret(default: Any = None, **kwargs: Any) -> Any:
    """A field whose value is never shown (repr, error messages)."""
    return Field(default, secret=True, **kwargs)


class Settings(BaseSettings):
    """The settings; see the README's "Settings" table for what each one does."""

    alimail_profile: Profile = "embedded"
    knowledge_file: Path = DEFAULT_KNOWLEDGE_PATH
    # Tickets: see tickets_database_url() for the default.
    tickets_db_url: Optional[str] = _secret()
    tickets_api_host: str = "127.0.0.1"
    # Deprecated single token: accepted as the token named LEGACY_TICKETS_API_TOKEN_NAME.
    tickets_api_token: Optional[str] = _secret()
    tickets_api_tokens: Optional[Tuple[Tuple[str, str], ...]] = _secret()
    ticket_webhook_url: Optional[str] = _secret()
    ticket_webhook_format: WebhookFormat = "json"
    ticket_webhook_secret: Optional[str] = _secret()
    ticket_webhook_timeout: float = Field(5.0, ge=0.01, le=300.0)
    ticket_webhook_retries: int = Field(3, ge=1, le=MAX_WEBHOOK_ATTEMPTS)
    staff_language: Optional[str] = None
    # Ticket backend (issue 16): where a ticket goes after it is written locally (README, Ticket backends).
    ticket_backend: TicketBackendName = "builtin"
    ticket_backend_timeout: float = Field(10.0, gt=0.0, le=300.0)
    ticket_outbox_worker: bool = True
    ticket_status_wait: float = Field(3.0, gt=0.0, le=300.0)
    ticket_outbox_interval: float = Field(5.0, ge=0.05, le=3600.0)
    ticket_outbox_backoff: float = Field(5.0, ge=0.01, le=3600.0)
    ticket_outbox_max_backoff: float = Field(600.0, ge=0.01, le=86400.0)
    # Request Tracker 5 (TICKET_BACKEND=rt): REST2 at RT_URL + /REST/2.0/.
    rt_url: Optional[str] = None
    rt_token: Optional[str] = _secret()
    rt_user: Optional[str] = None
    rt_password: Optional[str] = _secret(strip=False)
    rt_queue: str = "General"
    rt_queue_postmaster: Optional[str] = None
    rt_priorities: str = DEFAULT_RT_PRIORITIES
    # Jira Service Management (TICKET_BACKEND=jira): customer requests at JIRA_URL + rest/servicedeskapi/.
    jira_url: Optional[str] = None
    jira_email: Optional[str] = None
    jira_api_token: Optional[str] = _secret()
    jira_service_desk_id: Optional[str] = Field(None, regex=r"^[0-9]{1,18}$")
    jira_request_type_id: Optional[str] = Field(None, regex=r"^[0-9]{1,18}$")
    jira_request_type_id_postmaster: Optional[str] = Field(None, regex=r"^[0-9]{1,18}$")
    jira_send_priority: bool = True
    # ServiceNow (TICKET_BACKEND=servicenow): incidents through the Table API at SERVICENOW_URL + api/now/table/.
    servicenow_url: Optional[str] = None
    servicenow_user: Optional[str] = None
    servicenow_password: Optional[str] = _secret(strip=False)
    servicenow_oauth_token: Optional[str] = _secret()
    servicenow_assignment_group: Optional[str] = Field(None, regex=r"^[0-9a-f]{32}$")
    servicenow_assignment_group_postmaster: Optional[str] = Field(None, regex=r"^[0-9a-f]{32}$")
    servicenow_caller_lookup: bool = True
    user: Optional[str] = None
    # The production profile's tracker database (also Rasa's, through endpoints.production.yml).
    tracker_db_host: str = "127.0.0.1"
    tracker_db_port: int = Field(5432, ge=1, le=65535)
    tracker_db_name: str = "alimail"
    tracker_db_user: str = "postgres"
    tracker_db_password: Optional[str] = _secret(strip=False)
    tracker_db_url: str = _secret("sqlite:///var/trackers.sqlite3")
    # Retention (make purge): conversations by their last event, closed tickets' transcripts by closing time.
    conversation_retention_days: int = Field(90, ge=1, le=36500)
    ticket_transcript_retention_days: int = Field(30, ge=1, le=36500)
    store_check_timeout: float = Field(5.0, gt=0.0, le=300.0)
    # Bounded waits of one message (README, "When a part fails"): Rasa's calls to the action server,
    # the tracker store (connect and each statement) and the lock store (each Redis command), and the
    # readiness endpoints' checks.
    action_server_timeout: float = Field(5.0, gt=0.0, le=300.0)
    tracker_store_timeout: float = Field(2.0, gt=0.0, le=300.0)
    lock_store_timeout: float = Field(1.0, gt=0.0, le=300.0)
    readiness_timeout: float = Field(1.0, gt=0.0, le=60.0)
    # The production profile's Redis: Rasa's lock store (endpoints.production.yml) and the channels' shared state.
    redis_host: str = "127.0.0.1"
    redis_port: int = Field(6379, ge=1, le=65535)
    redis_db: int = Field(1, ge=0)
    redis_password: Optional[str] = _secret(strip=False)
    redis_key_prefix: str = "alimail"
    # Shared secrets between the servers and their callers (SECURITY.md).
    rest_api_token: Optional[str] = _secret()
    action_server_token: Optional[str] = _secret()
    # Channels.
    slack_bot_token: Optional[str] = _secret()
    slack_signing_secret: Optional[str] = _secret()
    slack_api_url: str = DEFAULT_SLACK_API_URL
    dingtalk_app_secret: Optional[str] = _secret()
    dingtalk_webhook_hosts: Tuple[str, ...] = DEFAULT_DINGTALK_WEBHOOK_HOSTS
    dingtalk_allow_http: bool = False
    webchat_jwt_key: Optional[str] = _secret()
    webchat_jwt_issuer: Optional[str] = None
    webchat_jwt_audience: Optional[str] = None
    webchat_allowed_origins: Optional[Tuple[str, ...]] = None
    webchat_session_secret: Optional[str] = _secret(min_length=32)
    webchat_history_minutes: int = Field(60, ge=1, le=10080)
    # `make profile` (tools/turn_profile.py): each Rasa turn's parts timed and appended to this file.
    turn_profile_file: Optional[Path] = None

    class Config:
        frozen = True
        extra = "forbid"

        @classmethod
        def customise_sources(cls, init_settings: Any, env_settings: Any, file_secret_settings: Any) -> Tuple[Any, ...]:
            # Only the values given: the environment comes in through from_environ(), so one
            # code path (empty = unset, stripping, error messages) serves os.environ and tests.
            return (init_settings,)

    # -- parsing -------------------------------------------------------------------------------
    @validator("*", pre=True)
    def _booleans(cls, value: Any, field: ModelField) -> Any:  # a pydantic validator: a classmethod
        return parse_bool(value) if field.outer_type_ is bool else value

    @validator("webchat_allowed_origins", pre=True)
    def _origins(cls, value: Any) -> Any:
        return (parse_origins(value) or None) if isinstance(value, str) else value

    @validator("dingtalk_webhook_hosts", pre=True)
    def _hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_hosts(value) or DEFAULT_DINGTALK_WEBHOOK_HOSTS
        return value

    @validator("tickets_api_tokens", pre=True)
    def _named_tokens(cls, value: Any, values: Dict[str, Any]) -> Any:
        pairs = parse_named_tokens(value) if isinstance(value, str) else value
        legacy = values.get("tickets_api_token")
        if pairs and legacy:
            names = [name for name, _ in pairs]
            if LEGACY_TICKETS_API_TOKEN_NAME in names:
                raise ValueError(
                    f"the name {LEGACY_TICKETS_API_TOKEN_NAME!r} is TICKETS_API_TOKEN's (deprecated): drop one of them"
                )
            if any(token == legacy for _, token in pairs):
                raise ValueError("repeats the token of TICKETS_API_TOKEN: give each name its own token")
        return pairs

    @validator("rt_priorities", pre=True)
    def _rt_priorities(cls, value: Any) -> Any:
        parse_priorities(str(value))  # checked now; rt_priority_map() parses it for use
        return str(value)

    @validator("rt_url")
    def _rt_url(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else helpdesk_url(value)

    @validator("jira_url", "servicenow_url")
    def _helpdesk_urls(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else helpdesk_url(value)

    @root_validator(skip_on_failure=True)
    def _jira_servicenow_configured(cls, values: Dict[str, Any]) -> Dict[str, Any]:
        if values.get("ticket_backend") == "jira":
            needed = ("jira_url", "jira_email", "jira_api_token", "jira_service_desk_id", "jira_request_type_id")
            missing = [name.upper() for name in needed if not values.get(name)]
            if missing:
                raise ValueError(f"TICKET_BACKEND=jira needs {', '.join(missing)}")
        if values.get("ticket_backend") == "servicenow":
            if not values.get("servicenow_url") or not values.get("servicenow_user"):
                raise ValueError("TICKET_BACKEND=servicenow needs SERVICENOW_URL and SERVICENOW_USER")
            if not values.get("servicenow_oauth_token") and not values.get("servicenow_password"):
                raise ValueError("TICKET_BACKEND=servicenow needs SERVICENOW_PASSWORD or SERVICENOW_OAUTH_TOKEN")
        return values

    @validator("ticket_backend", pre=True)
    def _backend_lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @root_validator(skip_on_failure=True)
    def _backend_configured(cls, values: Dict[str, Any]) -> Dict[str, Any]:
        if values.get("ticket_backend") == "rt":
            if not values.get("rt_url"):
                raise ValueError("TICKET_BACKEND=rt needs RT_URL")
            if not values.get("rt_token") and not (values.get("rt_user") and values.get("rt_password")):
                raise ValueError("TICKET_BACKEND=rt needs RT_TOKEN, or RT_USER and RT_PASSWORD")
        return values

    @validator("ticket_webhook_format", "staff_language", pre=True)
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @classmethod
    def env_names(cls) -> Dict[str, str]:
        """Field name → environment variable."""
        return {name: name.upper() for name in cls.__fields__}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "Settings":
        """Settings from a mapping of variable → value (os.environ, or a test's dict); SettingsError if invalid."""
        values: Dict[str, Any] = {}
        for name, variable in cls.env_names().items():
            raw = environ.get(variable)
            if raw is None or not raw.strip():
                continue  # unset or empty: the default
            values[name] = raw if cls.__fields__[name].field_info.extra.get("strip") is False else raw.strip()
        try:
            return cls(**values)
        except ValidationError as error:
            raise SettingsError(_describe(error, values)) from None

    def __repr_args__(self) -> List[Tuple[Optional[str], Any]]:
        return [(name, "***" if _is_secret(name) and value is not None else value) for name, value in self]

    # -- derived settings ------------------------------------------------------------------------
    def tracker_postgres_url(self) -> str:
        """The production profile's tracker database as a PostgreSQL URL (user and password URL-encoded)."""
        from sqlalchemy.engine import URL

        return URL.create(
            "postgresql",
            self.tracker_db_user or None,
            self.tracker_db_password or None,
            self.tracker_db_host,
            self.tracker_db_port,
            self.tracker_db_name,
        ).render_as_string(hide_password=False)

    def tickets_database_url(self) -> str:
        """The ticket database, one rule for every reader: TICKETS_DB_URL if set; else in the production
        profile the tracker database (tickets and Rasa's `events` table don't clash); else the SQLite
        file var/tickets.sqlite3 of the project."""
        if self.tickets_db_url:
            return self.tickets_db_url
        if self.alimail_profile == "production":
            return self.tracker_postgres_url()
        return f"sqlite:///{DEFAULT_TICKETS_DB_PATH}"

    def tickets_api_credentials(self) -> Tuple[Tuple[str, str], ...]:
        """(name, token) of every ticket API token: TICKETS_API_TOKENS, plus the deprecated
        TICKETS_API_TOKEN as the name `staff`. The name is the author of the changes made with the token."""
        pairs = tuple(self.tickets_api_tokens or ())
        if self.tickets_api_token:
            pairs += ((LEGACY_TICKETS_API_TOKEN_NAME, self.tickets_api_token),)
        return pairs

    def tracker_database_url(self) -> str:
        """The tracker store the running bot writes, for `make purge` and `make scrub`: TRACKER_DB_URL if set;
        else in the production profile its PostgreSQL database (endpoints.production.yml); else the SQLite
        file var/trackers.sqlite3 of the project (endpoints.yml)."""
        if "tracker_db_url" in self.__fields_set__:
            return self.tracker_db_url
        if self.alimail_profile == "production":
            return self.tracker_postgres_url()
        return f"sqlite:///{DEFAULT_TRACKERS_DB_PATH}"

    def rt_priority_map(self) -> Dict[str, int]:
        """RT_PRIORITIES as {"High": 80, "Medium": 50, "Low": 20}."""
        return dict(parse_priorities(self.rt_priorities))

    def knowledge_path(self, root: Path = PROJECT_ROOT) -> Path:
        """The knowledge file; a relative KNOWLEDGE_FILE is relative to the project folder `root`."""
        return root / self.knowledge_file


def _is_secret(name: str) -> bool:
    return bool(Settings.__fields__[name].field_info.extra.get("secret"))


def _describe(error: ValidationError, values: Mapping[str, str]) -> str:
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "?"
        if name == "__root__":  # a rule across variables: its message names them
            problems.append(str(item["msg"]))
            continue
        variable = name.upper()
        shown = "(hidden)" if name in Settings.__fields__ and _is_secret(name) else repr(values.get(name))
        problems.append(f"{variable}={shown}: {item['msg']}")
    return "invalid setting: " + "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """This process's settings, read from the environment on the first call (tests: `get_settings.cache_clear()`)."""
    return Settings.from_environ(os.environ)


def process_environment() -> Dict[str, str]:
    """A copy of the whole environment: only for checking what Rasa's own ${VAR} substitution in an
    endpoints file will see (tools/check_stores.py), never for our settings."""
    return dict(os.environ)


def main(argv: Iterable[str]) -> int:
    """`tickets-db-url`: print the ticket database URL. Exit 1 with the reason on an invalid setting."""
    if list(argv) != ["tickets-db-url"]:
        print("usage: python -m core.settings tickets-db-url", file=sys.stderr)
        return 2
    try:
        print(get_settings().tickets_database_url())
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
