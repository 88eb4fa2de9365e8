"""A small JSON-over-HTTP client for the helpdesk backends: one timeout on every call, no redirects,
credentials only in headers, and HTTP trouble mapped onto the backend exceptions.

    client = JsonClient("https://rt.example.com/REST/2.0/", timeout=10.0, headers={"Authorization": "token …"})
    status, body = client.request("POST", "ticket", json={...})        # raises on 5xx/429/timeout/4xx

`request` raises BackendUnavailable on a connection error, a timeout, 408/429/5xx and a redirect (a
redirect is never followed: it would send the credentials elsewhere, and a helpdesk API answers
directly), BackendRejected on any other 4xx unless the status is in `allow` (then the caller decides,
e.g. 404 → RemoteTicketNotFound). Messages carry the method, the path and the status, never a body
or a header.
"""

from __future__ import annotations

import json as jsonlib
from typing import Any, Dict, Iterable, Optional, Tuple
from urllib.parse import urljoin

import requests

from tickets.backends.base import BackendRejected, BackendUnavailable

TRANSIENT_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))
MAX_RESPONSE_BYTES = 5 * 1024 * 1024  # a status answer is small; refuse to buffer more


class JsonClient:
    def __init__(
        self,
        base_url: str,
        timeout: float,
        headers: Optional[Dict[str, str]] = None,
        auth: Optional[Tuple[str, str]] = None,
        verify: bool = True,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy or netrc credentials from the environment
        self.session.headers.update({"Accept": "application/json", **(headers or {})})
        if auth:
            self.session.auth = auth
        self.session.verify = verify

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Optional[Dict[str, Any]] = None,
        allow: Iterable[int] = (),
    ) -> Tuple[int, Any]:
        """(status, parsed JSON body or None). See the module doc for the exceptions."""
        where = f"{method} {path.split('?', 1)[0]}"
        try:
            response = self.session.request(
                method,
                self.url(path),
                json=json,
                params=params,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
            raw = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True) if response.raw else b""
            response.close()
        except requests.Timeout as error:
            raise BackendUnavailable(f"{where}: timed out after {self.timeout:g} s") from error
        except (requests.ConnectionError, OSError) as error:
            raise BackendUnavailable(f"{where}: cannot connect ({type(error).__name__})") from error
        except requests.RequestException as error:
            raise BackendUnavailable(f"{where}: {type(error).__name__}") from error
        status = response.status_code
        if len(raw) > MAX_RESPONSE_BYTES:
            raise BackendUnavailable(f"{where}: answer larger than {MAX_RESPONSE_BYTES} bytes")
        if 300 <= status < 400:
            raise BackendUnavailable(f"{where}: HTTP {status} redirect not followed (check the URL setting)")
        if status in TRANSIENT_STATUSES and status not in set(allow):
            raise BackendUnavailable(f"{where}: HTTP {status}")
        if status >= 400 and status not in set(allow):
            raise BackendRejected(f"{where}: HTTP {status}")
        body: Any = None
        if raw:
            try:
                body = jsonlib.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                if status < 400:
                    raise BackendUnavailable(f"{where}: HTTP {status} with a body that is not JSON") from None
        return status, body
