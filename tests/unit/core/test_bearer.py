"""core/bearer.py: the one `Authorization: Bearer` check."""

from __future__ import annotations

import pytest

from core.bearer import authorized, bearer_token, token_matches


@pytest.mark.parametrize(
    "header, token",
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER   abc  ", "abc"),
        ("Bearer a b", "a b"),
        ("Basic abc", None),
        ("abc", None),
        ("Bearer", None),
        ("Bearer    ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header, token):
    assert bearer_token(header) == token


def test_token_matches_exactly_and_takes_any_characters():
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3cre", "s3cret") and not token_matches("s3cretx", "s3cret")
    assert not token_matches(None, "s3cret")
    assert not token_matches("\udcff", "s3cret")  # a header byte that is not UTF-8 is no error
    assert token_matches("密钥", "密钥")


def test_authorized():
    assert authorized("Bearer s3cret", "s3cret")
    assert not authorized("Bearer wrong", "s3cret") and not authorized(None, "s3cret")
