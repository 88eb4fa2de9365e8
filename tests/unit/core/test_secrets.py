"""core.secrets: what a secret is. The corpus (tests/secrets_corpus.yml), both ways: every secret
masked and every ordinary message kept; the kinds; the cap; linear time on adversarial input.
The JavaScript twin runs the same corpus: tests/integration/core/test_secrets_js.py."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
import yaml

from core.language import has_cjk
from core.secrets import MASK, MAX_MESSAGE_CHARS, TRUNCATED, cap, find_secrets, mask_secrets

ROOT = Path(__file__).resolve().parents[3]
CORPUS_PATH = ROOT / "tests" / "secrets_corpus.yml"
CORPUS: Dict[str, Any] = yaml.safe_load(CORPUS_PATH.read_text(encoding="utf-8"))
BIG = 200_000
TIME_LIMIT = 1.0  # seconds of this process's CPU time, so that other busy processes do not count


def case_id(kind: str, number: int, text: str) -> str:
    """A readable id: mask-007-my-password-is-Hunter2, keep-012-zh-ALM-000123."""
    slug = "-".join(re.findall(r"[A-Za-z0-9_.]+", text))[:40] or "text"
    return f"{kind}-{number:03d}-{'zh-' if has_cjk(text) else ''}{slug}"


MASK_CASES = [pytest.param(case, id=case_id("mask", i, case["text"])) for i, case in enumerate(CORPUS["mask"])]
KEEP_CASES = [pytest.param(text, id=case_id("keep", i, text)) for i, text in enumerate(CORPUS["keep"])]


def test_the_corpus_covers_both_languages_and_both_ways():
    masks, keeps = CORPUS["mask"], CORPUS["keep"]
    assert len(masks) >= 80 and len(keeps) >= 50
    assert sum(has_cjk(case["text"]) for case in masks) >= 20 and sum(has_cjk(text) for text in keeps) >= 15
    for case in masks:
        assert set(case) <= {"text", "secrets", "survive"} and case["secrets"], case
        assert all(secret in case["text"] for secret in case["secrets"]), case
        assert all(word in case["text"] for word in case.get("survive", [])), case
    assert len({case["text"] for case in masks} | set(keeps)) == len(masks) + len(keeps)  # no duplicates


@pytest.mark.parametrize("case", MASK_CASES)
def test_secrets_are_masked(case):
    masked = mask_secrets(case["text"])
    assert MASK in masked
    assert [secret for secret in case["secrets"] if secret in masked] == [], masked
    assert [word for word in case.get("survive", []) if word not in masked] == [], masked


@pytest.mark.parametrize("text", KEEP_CASES)
def test_ordinary_messages_are_kept(text):
    assert mask_secrets(text) == text
    assert find_secrets(text) == []


def test_masking_twice_changes_nothing():
    for text in [case["text"] for case in CORPUS["mask"]] + CORPUS["keep"]:
        once = mask_secrets(text)
        assert mask_secrets(once) == once, text


@pytest.mark.parametrize(
    "text, found",
    [
        ("my password is Hunter2! and it stopped working", [("Hunter2!", "password")]),
        ("验证码是482913，登录不了", [("482913", "code")]),
        ("code: 123 456", [("123 456", "code")]),
        ("G-482913 is your code", [("G-482913", "code")]),
        ("app password wkzp-qrtm-vbnc-xlhd", [("wkzp-qrtm-vbnc-xlhd", "app_password")]),
        ("token ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ ok", [("ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ", "token")]),
        ("card 4111-1111-1111-1111", [("4111-1111-1111-1111", "card")]),
        ("pw: abc123 and passphrase: purple monkey", [("abc123", "password"), ("purple monkey", "password")]),
        ("my password is correct horse battery staple. thanks", [("correct horse battery staple.", "password")]),
    ],
)
def test_find_secrets_says_where_and_what(text, found):
    assert [(text[s.start : s.end], s.kind) for s in find_secrets(text)] == found


def test_bot_texts_are_never_masked():
    """Ticket transcripts mask the bot's messages too: nothing the bot says may look like a secret."""
    texts: List[str] = []

    def strings(value: Any) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                strings(item)
        elif isinstance(value, list):
            for item in value:
                strings(item)

    for path in [ROOT / "knowledge" / "alimail_security.yml", ROOT / "domain.yml", *ROOT.glob("data/responses/*.yml")]:
        strings(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert len(texts) > 300
    assert [text for text in texts if mask_secrets(text) != text] == []


def test_long_messages_are_cut_at_the_cap_without_a_piece_of_a_word():
    word = "Hunter2Hunter2"
    text = "x " * (MAX_MESSAGE_CHARS // 2 - 3) + word + " tail"
    assert len(text) > MAX_MESSAGE_CHARS > text.index(word)
    capped = cap(text)
    assert capped.endswith(" " + TRUNCATED) and "Hunter" not in capped and len(capped) <= MAX_MESSAGE_CHARS + 20
    assert mask_secrets(text) == capped
    assert cap("short") == "short" and mask_secrets("a" * MAX_MESSAGE_CHARS) == "a" * MAX_MESSAGE_CHARS
    unbroken = "密" * (MAX_MESSAGE_CHARS + 10)  # no space to cut at: 200 characters are given up
    assert cap(unbroken) == "密" * (MAX_MESSAGE_CHARS - 200) + " " + TRUNCATED


def fill(unit: str, length: int = BIG) -> str:
    return (unit * (length // len(unit) + 1))[:length]


ADVERSARIAL: Dict[str, Callable[[], str]] = {
    "spaces after a cue": lambda: "password" + " " * BIG,
    "spaces after is": lambda: "password is" + " " * BIG + "x",
    "whitespace then a word": lambda: "a" + " " * BIG + "b",
    "password repeated": lambda: fill("password "),
    "pw repeated": lambda: fill("pw "),
    "pw: repeated": lambda: fill("pw:"),
    "cue glued in a run": lambda: fill("apassword-"),
    "password is repeated": lambda: fill("password is correct horse "),
    "qualifier repeated": lambda: fill("password for my "),
    "quotes never closed": lambda: fill("password “"),
    "one open quote": lambda: 'password "' + "a" * BIG,
    "chinese cues": lambda: fill("密码"),
    "chinese cue and shi": lambda: fill("密码是"),
    "verification code cues": lambda: fill("验证码"),
    "codes after cues": lambda: fill("验证码1234 "),
    "code words and digits": lambda: fill("code 1234 "),
    "digits": lambda: "1" * BIG,
    "digit space": lambda: fill("1 "),
    "digit dash": lambda: fill("12-"),
    "four digits and commas": lambda: fill("1234, "),
    "six digits": lambda: fill("482913 "),
    "full-width digits": lambda: fill("４"),
    "letters": lambda: "a" * BIG,
    "four-letter words": lambda: fill("abcd "),
    "four-letter words after a cue": lambda: fill("password abcd "),
    "sixteen letters": lambda: fill("abcdefghijklmnop "),
    "token characters": lambda: fill("aB3_"),
    "eyJ": lambda: fill("eyJ"),
    "dots": lambda: "." * BIG + "x",
    "visible ASCII": lambda: fill("!a1B"),
    "newlines": lambda: "\n" * BIG,
    "everything": lambda: fill("my password is Hunter2! code 482913 验证码是123456 ALM-000123 2024-11-20 "),
}


@pytest.mark.parametrize("make", ADVERSARIAL.values(), ids=list(ADVERSARIAL))
def test_linear_time_on_adversarial_input(make):
    """mask_secrets (capped) and the matcher itself (find_secrets, uncapped) each within a second."""
    text = make()
    assert len(text) >= BIG
    for function in (mask_secrets, find_secrets):
        start = time.process_time()
        function(text)
        assert time.process_time() - start < TIME_LIMIT, function.__name__
