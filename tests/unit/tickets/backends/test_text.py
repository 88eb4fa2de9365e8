"""tickets/backends/text.py: titles on one line, bodies cut to a field's limit with their last line kept."""

from __future__ import annotations

from tickets.backends.base import IDEMPOTENCY_KEY
from tickets.backends.text import cut, one_line


def test_one_line_joins_white_space_drops_control_characters_and_cuts_with_an_ellipsis():
    assert one_line("Forgotten\n password \x07[ALM-000001]", 80) == "Forgotten password [ALM-000001]"
    assert one_line("a" * 100, 10) == "a" * 9 + "…"


def test_cut_keeps_the_last_line_whole_within_the_limit():
    text = cut("x" * 500, 100, "Assistant key: ALM-000001-abc")
    assert len(text) == 100
    assert text.endswith("…\n\nAssistant key: ALM-000001-abc")
    assert cut("short body", 100, "last") == "short body\n\nlast"
    assert cut("", 100, "last") == "last"


def test_cut_without_a_last_line_is_the_body_cut_to_the_limit():
    assert cut("body\x00 text\n", 100) == "body text"
    assert len(cut("y" * 500, 50)) == 50


def test_idempotency_keys_are_letters_digits_and_dashes_only():
    assert IDEMPOTENCY_KEY.fullmatch("ALM-000042-0123abcdef45")
    for bad in ("", "a" * 65, "ALM 1", "ALM-1'--", "ALM/1"):
        assert not IDEMPOTENCY_KEY.fullmatch(bad)
