"""Text as the helpdesks' fields take it: a title on one line, a body cut to the field's limit with
its last line (the idempotency marker) kept. Control characters are dropped; the text is already masked."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


def one_line(text: str, limit: int) -> str:
    """`text` on one line (runs of white space → one space), cut to `limit` characters with `…`."""
    line = _SPACES.sub(" ", _CONTROL.sub("", text)).strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def cut(text: str, limit: int, last: str = "") -> str:
    """`text` cut to `limit` characters (with `…`), keeping room for a blank line and `last` at the end."""
    room = limit - (len(last) + 2 if last else 0)
    body = _CONTROL.sub("", text).rstrip()
    if len(body) > room:
        body = body[: room - 1].rstrip() + "…"
    return f"{body}\n\n{last}" if last and body else (last or body)
