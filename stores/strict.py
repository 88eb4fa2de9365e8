"""Rasa tracker and lock stores that refuse to start when their server can't be reached.

Rasa 3.6 on its own does not refuse. Its SQL tracker store logs "Could not create tables" for
an unreachable database and Rasa starts anyway; every message then falls back to an in-memory
tracker (FailSafeTrackerStore), so conversations silently lose their history. Its Redis lock
store does not connect until the first message, which then fails. A tracker store class that
can't be imported is silently replaced by the in-memory one.
These subclasses connect once, with a timeout, when Rasa creates them and otherwise raise
`StoreUnavailableError` (a RasaException), which ends `rasa run` / `rasa shell` with the
message and exit code 1. Referenced from endpoints files as `type: stores.strict.<Class>`.
The tracker store masks typed secrets before writing, as `stores.masking` (its base class) does.

Once running, every wait is bounded (README, "When a part fails"): PostgreSQL connections time out
after TRACKER_STORE_TIMEOUT and so does every statement (`statement_timeout`); a pooled connection
is tested before use (`pool_pre_ping`), so the first message after PostgreSQL restarts is answered
instead of failing on a dead connection. Each Redis command of the lock store times out after
LOCK_STORE_TIMEOUT (Rasa's default: 10 s) unless the endpoints file gives `socket_timeout`.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Text

import sqlalchemy as sa
from rasa.core.lock_store import RedisLockStore
from rasa.core.tracker_store import create_engine_kwargs, is_postgresql_url, validate_port
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.orm import sessionmaker

from core.settings import get_settings
from stores.connectivity import (
    DEFAULT_TIMEOUT_SECONDS,
    REDIS_HINTS,
    TRACKER_HINTS,
    StoreUnreachable,
    check_redis,
    check_sql,
    flag,
)
from stores.masking import MaskingSQLTrackerStore


class StoreUnavailableError(StoreUnreachable, RasaException):
    """A configured store is unreachable at start-up; Rasa prints the message and exits 1."""


class StrictSQLTrackerStore(MaskingSQLTrackerStore):
    """The masking SQL tracker store, but an unreachable database stops start-up with a clear message.

    Accepts the same keys as `type: SQL` (dialect, url, port, db, username, password, login_db,
    query) plus `connect_timeout` (seconds, default 5). Empty strings count as unset, so
    `password: ${TRACKER_DB_PASSWORD}` with an empty variable means "no password".
    """

    def __init__(
        self,
        domain: Optional[Any] = None,
        dialect: Text = "postgresql",
        host: Optional[Text] = None,
        port: Optional[Any] = None,
        db: Text = "rasa",
        username: Optional[Text] = None,
        password: Optional[Text] = None,
        event_broker: Optional[Any] = None,
        login_db: Optional[Text] = None,
        query: Optional[Dict] = None,
        connect_timeout: Any = DEFAULT_TIMEOUT_SECONDS,
        **kwargs: Any,
    ) -> None:
        port = validate_port(port or None)
        username, password, login_db = username or None, password or None, login_db or None
        url = self.get_db_url(dialect, host or None, port, db, username, password, login_db, query)
        try:
            check_sql(url, "Tracker store", TRACKER_HINTS, float(connect_timeout))
        except StoreUnreachable as error:
            raise StoreUnavailableError(str(error)) from None
        super().__init__(
            domain=domain,
            dialect=dialect,
            host=host or None,
            port=port,
            db=db,
            username=username,
            password=password,
            event_broker=event_broker,
            login_db=login_db,
            query=query,
            **kwargs,
        )
        self._bound_waits(get_settings().tracker_store_timeout)

    def _bound_waits(self, timeout: float) -> None:
        """Rebuild Rasa's engine with the same pool, every wait bounded by `timeout` seconds, and
        connections tested before use."""
        url = self.engine.url
        if not is_postgresql_url(url):
            return
        kwargs = create_engine_kwargs(url)
        connect_args = dict(kwargs.get("connect_args") or {})
        # libpq takes one `options`: the URL's (e.g. a search_path), Rasa's, then the statement timeout.
        in_url = url.query.get("options") or ()
        options = [*([in_url] if isinstance(in_url, str) else in_url), connect_args.get("options", "")]
        options.append(f"-c statement_timeout={int(timeout * 1000)}")
        connect_args.update(options=" ".join(o for o in options if o), connect_timeout=max(2, math.ceil(timeout)))
        kwargs.update(connect_args=connect_args, pool_pre_ping=True, pool_timeout=timeout)
        hide_parameters = self.engine.hide_parameters  # stores.masking's engine shows no values in errors
        self.engine.dispose()
        self.engine = sa.create_engine(url, hide_parameters=hide_parameters, **kwargs)
        self.sessionmaker = sessionmaker(bind=self.engine)


class StrictRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store, but it PINGs Redis when created and refuses to start without it.

    Rasa creates custom lock stores as `Class(endpoint_config=...)`; the keys are those of
    `type: redis` (url, port, db, username, password, use_ssl, ssl_*, key_prefix,
    socket_timeout) plus `connect_timeout`. Unlike Rasa, a key prefix that is not letters and
    digits is an error instead of silently using the default prefix.
    """

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **settings: Any) -> None:
        if endpoint_config is not None:
            settings = {"host": endpoint_config.url, **endpoint_config.kwargs, **settings}
        host = settings.pop("host", None) or settings.pop("url", None) or "localhost"
        port = int(settings.pop("port", None) or 6379)
        db = int(settings.pop("db", None) or 1)
        username = settings.pop("username", None) or None
        password = settings.pop("password", None) or None
        use_ssl = flag(settings.pop("use_ssl", False))
        key_prefix = settings.pop("key_prefix", None) or None
        connect_timeout = float(settings.pop("connect_timeout", None) or DEFAULT_TIMEOUT_SECONDS)
        if key_prefix is not None and not str(key_prefix).isalnum():
            raise StoreUnavailableError(
                f"Lock store key prefix {key_prefix!r} must be letters and digits only "
                f"(Rasa would silently use its default prefix). Fix REDIS_KEY_PREFIX."
            )
        try:
            check_redis(host, port, db, username, password, use_ssl, "Lock store", REDIS_HINTS, connect_timeout)
        except StoreUnreachable as error:
            raise StoreUnavailableError(str(error)) from None
        socket_timeout = settings.pop("socket_timeout", None)
        if socket_timeout in (None, ""):
            socket_timeout = get_settings().lock_store_timeout
        extra = {"socket_timeout": float(socket_timeout)}
        super().__init__(
            host=host,
            port=port,
            db=db,
            username=username,
            password=password,
            use_ssl=use_ssl,
            key_prefix=str(key_prefix) if key_prefix else None,
            **settings,
            **extra,
        )
