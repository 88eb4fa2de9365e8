"""`Authorization: Bearer <token>`: one check for every server that takes a shared token
(the REST channel, the action server). Framework-free: callers pass the header's value."""

from __future__ import annotations

import hmac
from typing import Optional


def bearer_token(header: Optional[str]) -> Optional[str]:
    """The token of an `Authorization: Bearer <token>` header value (scheme in any case), else None."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_matches(given: Optional[str], expected: str) -> bool:
    """Constant-time comparison, as bytes (any characters are accepted); None never matches."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def authorized(header: Optional[str], expected: str) -> bool:
    """Whether an `Authorization` header value carries the bearer token `expected`."""
    return token_matches(bearer_token(header), expected)
