"""Learning from real conversations, end to end: talk to the real servers over REST, export the
messages to review from their SQL tracker store with `python -m trainer.review export`, label
one and merge it into a copy of data/nlu with `python -m trainer.review merge`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import yaml

from tests.e2e.test_rest_conversations import button_payload, text_of

ROOT = Path(__file__).resolve().parents[2]
# Candidates for each conversation, tried in order until the model treats one as intended
# (the model is retrained as the data grows; the test is about the export, not the NLU).
GIBBERISH = ["Привет, почта совсем сломалась", "Ξέχασα τον κωδικό μου σήμερα", "ßßß ÿÿÿ qqq"]
FORGOT = [
    "i forgot my email password and cant log in now",
    "forgot the password of my alimail account yesterday",
    "help, i forgot my mailbox password again",
]
BOUNCE = [
    "every mail i send to the partner bounces with ESO_LOCAL_SPAM since this morning",
    "my mail to a customer bounced with ESO_LOCAL_SPAM again",
]


def trainer(*args: Any) -> subprocess.CompletedProcess:
    """`python -m trainer.review ...` as a trainer runs it (from the project directory)."""
    result = subprocess.run(
        [sys.executable, "-m", "trainer.review", *map(str, args)],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result


def review_items(path: Path) -> Dict[str, Dict[str, Any]]:
    return {item["text"]: item for item in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]}


def first_understood(servers, sender: str, candidates: List[str], expected: str) -> Tuple[str, str, List[Any]]:
    """(sender, text, replies) of the first candidate whose replies contain `expected`."""
    tried = []
    for number, text in enumerate(candidates):
        replies = servers.say(f"{sender}-{number}", text)
        if expected in text_of(replies) or any(
            b.get("title") == expected for r in replies for b in r.get("buttons") or []
        ):
            return f"{sender}-{number}", text, replies
        tried.append((text, text_of(replies)[:120]))
    raise AssertionError(f"no candidate got {expected!r}: {tried}")


@pytest.fixture(scope="module")
def conversations(servers) -> Dict[str, str]:
    """Three real conversations: a fallback, a guide that didn't work, a ticket; their first messages."""
    _, gibberish, _ = first_understood(servers, "review-fallback", GIBBERISH, "Something else")

    sender, forgot, replies = first_understood(servers, "review-guide", FORGOT, "secure phone number")
    replies = servers.say(sender, button_payload(replies, "Yes, one of them"))
    assert text_of(replies).startswith("Step 1 of 6")
    replies = servers.say(sender, "that step did not help at all")
    assert "step 1 didn't work" in text_of(replies)

    sender, bounce, _ = first_understood(servers, "review-ticket", BOUNCE, "Do not resend the same email")
    replies = servers.say(sender, "please open a ticket about this")
    assert "Which email address" in text_of(replies)
    servers.say(sender, "anna.berg@corp.example")
    servers.say(sender, "cancel")
    return {"gibberish": gibberish, "forgot": forgot, "bounce": bounce}


@pytest.fixture(scope="module")
def exported(servers, conversations, tmp_path_factory) -> Dict[str, Any]:
    out = tmp_path_factory.mktemp("review") / "to_review.yml"
    result = trainer("export", "--db-url", servers.trackers_db_url, "--out", out)
    return {"path": out, "items": review_items(out), "printed": result.stdout}


def test_export_finds_the_conversations_that_went_wrong(exported, conversations):
    items = exported["items"]
    assert "fallback" in items[conversations["gibberish"]]["reasons"]
    assert "didnt_work" in items[conversations["forgot"]]["reasons"]
    assert items[conversations["forgot"]]["predicted_intent"] == "forgot_password"
    assert items[conversations["forgot"]]["language"] == "en"
    assert "ticket" in items[conversations["bounce"]]["reasons"]
    assert items[conversations["bounce"]]["predicted_intent"] == "eso_local_spam"
    assert all(item["intent"] == "" for item in items.values())
    assert "corp.example" not in exported["path"].read_text(encoding="utf-8")  # e-mail addresses masked
    assert not any(text.startswith("/") for text in items)  # the button clicks are not exported
    assert "Read " in exported["printed"] and f"Exported {len(items)} messages" in exported["printed"]


def test_merge_adds_the_labelled_message_and_keeps_the_rest(exported, conversations, tmp_path):
    forgot = conversations["forgot"]
    data = tmp_path / "nlu"
    shutil.copytree(ROOT / "data" / "nlu", data)
    review = tmp_path / "to_review.yml"
    review.write_text(_label(exported["path"].read_text(encoding="utf-8"), forgot, "forgot_password"), encoding="utf-8")

    result = trainer("merge", review, "--data-dir", data)
    assert f"added to {data / 'forgot_password.yml'} (forgot_password): {forgot!r}" in result.stdout
    lines = (data / "forgot_password.yml").read_text(encoding="utf-8").splitlines()
    original = (ROOT / "data" / "nlu" / "forgot_password.yml").read_text(encoding="utf-8").splitlines()
    assert lines.count(f"    - {forgot}") == 1
    assert [line for line in lines if line != f"    - {forgot}"] == original
    left = review_items(review)
    assert forgot not in left and conversations["bounce"] in left and conversations["gibberish"] in left


def _label(content: str, text: str, intent: str) -> str:
    """The review file with `intent` filled in for the item `text`, edited as a trainer would."""
    head, found, tail = content.partition(f'- text: "{text}"\n')
    assert found, f"{text!r} not in the review file"
    return head + found + tail.replace('  intent: ""', f"  intent: {intent}", 1)
