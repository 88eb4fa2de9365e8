"""webchat/src/secrets.js, the widget's copy of core.secrets, runs the same corpus (tests/secrets_corpus.yml)
through Node's test runner and must give exactly Python's output for every corpus text, every text the
bot says, and a few thousand generated mixtures of cue words, numbers and punctuation."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import List

import pytest
import yaml

from core.secrets import mask_secrets

ROOT = Path(__file__).resolve().parents[3]
NODE_TEST = ROOT / "webchat" / "test" / "secrets.test.mjs"
NODE = shutil.which("node")
PIECES = [
    *("password", "Password", "pw", "pass", "pin", "PIN码", "code", "otp", "2fa", "token", "api key", "sms", "texted"),
    *(
        "验证码",
        "密码",
        "口令",
        "授权码",
        "是",
        "为",
        "：",
        ":",
        "=",
        " is ",
        " was ",
        " to ",
        " for my account ",
        "my",
    ),
    *("482913", "123 456", "12-34-56", "４８２９１３", "2024", "2024-11-20", "10:30", "5.7.1", "ALM-000123", "G-", "-"),
    *(
        "Hunter2!",
        "abc123",
        "correct horse battery staple",
        "abcd efgh ijkl mnop",
        "wkzp-qrtm-vbnc-xlhd",
        '"',
        "“",
        "”",
    ),
    *("and", "but", "wrong", "expired", " ", "  ", "\n", ",", ".", "!", "，", "。", "登录不了", "bo@x.com", "@", "1"),
    *("4111 1111 1111 1111", "P@ssw0rd9", "xoxb-2048-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "error code", "7"),
    *("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "step 3"),
    *("20 MB", "尾号", "call", "95187", "😭", "x", "Q", "_", "#", "+86", "mypassword", "app password", "the"),
]

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not on the PATH: the widget's secrets.js is not checked")


def mixtures(count: int, seed: int = 12) -> List[str]:
    rng = random.Random(seed)
    return [
        "".join(rng.choice(PIECES) + (" " if rng.random() < 0.5 else "") for _ in range(rng.randint(1, 12)))
        for _ in range(count)
    ]


def bot_texts() -> List[str]:
    texts: List[str] = []

    def strings(value: object) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                strings(item)
        elif isinstance(value, list):
            for item in value:
                strings(item)

    for path in [ROOT / "knowledge" / "alimail_security.yml", ROOT / "domain.yml"]:
        strings(yaml.safe_load(path.read_text(encoding="utf-8")))
    return texts


def test_the_widget_masks_like_core_secrets(tmp_path):
    corpus = yaml.safe_load((ROOT / "tests" / "secrets_corpus.yml").read_text(encoding="utf-8"))
    texts = [case["text"] for case in corpus["mask"]] + corpus["keep"] + bot_texts() + mixtures(3000)
    corpus["python"] = [[text, mask_secrets(text)] for text in texts]
    corpus_json = tmp_path / "corpus.json"
    corpus_json.write_text(json.dumps(corpus, ensure_ascii=False), encoding="utf-8")
    assert NODE is not None
    run = subprocess.run(
        [NODE, "--test", "--test-reporter=spec", str(NODE_TEST)],
        cwd=ROOT,
        env={**os.environ, "SECRETS_CORPUS_JSON": str(corpus_json)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-6000:]
    passed = re.search(r"^\S* ?pass (\d+)$", report, re.MULTILINE)
    skipped = re.search(r"^\S* ?skipped (\d+)$", report, re.MULTILINE)
    assert passed and int(passed.group(1)) >= len(corpus["mask"]) + len(corpus["keep"]) + 1, report[-3000:]
    assert skipped and skipped.group(1) == "0", report[-3000:]  # the comparison with Python ran
