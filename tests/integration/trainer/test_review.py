"""trainer.review export from a real Rasa SQLTrackerStore (SQLite file and the machine's
PostgreSQL); merging is in tests/unit/trainer/test_review.py.

PostgreSQL: a throw-away schema (`r_<uuid hex>`, reached with `?options=-csearch_path%3D<schema>`),
dropped with CASCADE at the end. PostgreSQL is expected to run here: when it is not
reachable the PostgreSQL tests fail (REVIEW_TEST_POSTGRES_URL, default as the ticket tests).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import yaml
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from tests.review_files import (
    BLANK_PAGE,
    CHINESE,
    CODE_QUESTION,
    GIBBERISH,
    LAPTOP,
    ROOT,
    copy_data,
    export,
    merge,
)
from trainer import review
from trainer.review_nlu import normalise

POSTGRES_URL = os.environ.get("REVIEW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DAY = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc).timestamp()
OLD_DAY = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc).timestamp()


class Talk:
    """The events of one conversation, one second apart."""

    def __init__(self, start: float = DAY) -> None:
        self.events: List[Any] = [
            ActionExecuted("action_session_start", timestamp=start),
            SessionStarted(timestamp=start),
            ActionExecuted("action_listen", timestamp=start),
        ]
        self.clock = start

    def tick(self) -> float:
        self.clock += 1
        return self.clock

    def user(
        self,
        said: str,
        intent: str,
        confidence: float,
        ranking: Optional[List[Any]] = None,
        faq_key: Optional[str] = None,
    ) -> "Talk":
        parse_data: Dict[str, Any] = {
            "intent": {"name": intent, "confidence": confidence},
            "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking or [(intent, confidence)]],
        }
        if faq_key:
            parse_data["response_selector"] = {
                "all_retrieval_intents": ["faq"],
                "faq": {"response": {"intent_response_key": faq_key, "confidence": 0.9}, "ranking": []},
            }
        self.events.append(UserUttered(said, intent=parse_data["intent"], parse_data=parse_data, timestamp=self.tick()))
        return self

    def action(self, name: str, reply: Optional[str] = None) -> "Talk":
        self.events.append(ActionExecuted(name, timestamp=self.tick()))
        if reply:
            self.events.append(BotUttered(reply, timestamp=self.tick()))
        self.events.append(ActionExecuted("action_listen", timestamp=self.tick()))
        return self

    def form(self, name: Optional[str]) -> "Talk":
        self.events.insert(len(self.events) - 1, ActiveLoop(name, timestamp=self.tick()))
        return self

    def new_session(self) -> "Talk":
        start = self.tick() + 7200
        self.events += [
            ActionExecuted("action_session_start", timestamp=start),
            SessionStarted(timestamp=start),
            ActionExecuted("action_listen", timestamp=start),
        ]
        self.clock = start
        return self


BOUNCE = "my colleague says my mails never arrive, the bounce says spam"
SECOND_SESSION = "about that thing from before"
OLD = "ancient gibberish qwxz"


def conversations() -> Dict[str, Talk]:
    """Conversations covering each reason, de-duplication, masking and what is left out."""
    return {
        "fallback": Talk()
        .user(GIBBERISH, "nlu_fallback", 0.5, [("nlu_fallback", 0.5), ("forgot_password", 0.31)])
        .action("action_default_ask_affirmation", "Sorry, did you mean…")
        .user("/forgot_password", "forgot_password", 1.0)
        .action("action_start_guide", "Forgotten Password…")
        .user("", "nlu_fallback", 0.5)
        .action("action_default_ask_affirmation", "I didn't understand")
        .user("/nlu_fallback", "nlu_fallback", 1.0)
        .action("action_default_ask_affirmation", "I didn't understand"),
        "core-fallback": Talk()
        .user("my inbox does something weird", "out_of_scope", 0.9)
        .action("action_default_fallback", "I still couldn't understand"),
        "rephrase": Talk()
        .user("hm the other thing", "affirm", 0.8)
        .action("action_default_ask_rephrase", "Other words?"),
        "low-1": Talk().user(CODE_QUESTION, "faq", 0.55, faq_key="faq/code_expiry").action("utter_faq", "10 minutes"),
        "low-2": Talk(DAY + 3600)
        .user("How long does the SMS code last for??", "faq", 0.62, faq_key="faq/code_expiry")
        .action("utter_faq", "10 minutes"),
        "confident": Talk()
        .user("my password reset sms never arrives today", "forgot_password", 0.97)
        .action("action_start_guide", "Forgotten Password…"),
        "known": Talk().user("forgot pw", "forgot_password", 0.4).action("action_start_guide", "Forgotten Password…"),
        "didnt-work": Talk()
        .user(LAPTOP, "forgot_password", 0.93)
        .action("action_start_guide", "Forgotten…")
        .user("/affirm", "affirm", 1.0)
        .action("action_handle_answer", "Step 1 of 6")
        .user("hello again", "greet", 0.99)
        .action("utter_greet", "Hi!")
        .user("that did nothing", "step_failed", 0.95)
        .action("action_step_failed", "Step 1 didn't work"),
        "ticket-form": Talk()
        .user(BOUNCE, "eso_local_spam", 0.88)
        .action("action_start_guide", "ESO_LOCAL_SPAM…")
        .user("/affirm", "affirm", 1.0)
        .action("action_start_ticket")
        .action("ticket_form", "Which email address?")
        .form("ticket_form")
        .user(
            "reach me at bo.li@corp.example or +86 138 1234 5678",
            "nlu_fallback",
            0.5,
            [("nlu_fallback", 0.5), ("inform_role", 0.4)],
        )
        .action("ticket_form", "Anything else?")
        .user("bo.li@corp.example", "nlu_fallback", 0.5)
        .action("ticket_form", "Confirm?"),
        "ticket-intent": Talk()
        .user(BLANK_PAGE, "out_of_scope", 0.95)
        .action("utter_out_of_scope", "I can't")
        .user("please open a ticket now", "open_ticket", 0.97)
        .action("action_start_ticket")
        .action("ticket_form", "Which email address?")
        .form("ticket_form"),
        "sessions": Talk()
        .user("my verification fails on the new phone", "verification_failed", 0.96)
        .action("action_start_guide", "Two-step verification…")
        .new_session()
        .user(SECOND_SESSION, "greet", 0.9)
        .action("utter_greet", "Hi!")
        .user("it didnt work", "step_failed", 0.99)
        .action("action_step_failed", "Which step?"),
        "chinese": Talk().user(CHINESE, "unusual_login_alerts", 0.45).action("action_start_guide", "Unusual…"),
        "old": Talk(OLD_DAY).user(OLD, "nlu_fallback", 0.5).action("action_default_ask_affirmation", "Sorry…"),
    }


class Backend:
    """A fresh, empty tracker database of one kind."""

    def __init__(self, kind: str, tmp_dir: Path) -> None:
        self.kind, self.admin, self.schema = kind, None, ""
        if kind == "sqlite":
            self.url = f"sqlite:///{tmp_dir / 'trackers.sqlite3'}"
            return
        self.admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        try:
            with self.admin.connect() as connection:
                self.schema = f"r_{uuid.uuid4().hex}"
                connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        except Exception as error:
            self.admin.dispose()
            self.admin = None
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not reachable: {error}", pytrace=False)
        self.url = f"{POSTGRES_URL}?options=-csearch_path%3D{self.schema}"

    def close(self) -> None:
        if self.admin is not None:
            with self.admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            self.admin.dispose()


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tracker_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, domain: Domain
) -> Iterator[str]:
    """A real SQLTrackerStore holding `conversations()`; yields its URL."""
    backend = Backend(request.param, tmp_path_factory.mktemp("trackers"))
    store = SQLTrackerStore(domain=domain, host=backend.url)
    try:
        for sender, talk in conversations().items():
            tracker = DialogueStateTracker.from_events(f"review-{sender}", talk.events, slots=domain.slots)
            asyncio.run(store.save(tracker))
        yield backend.url
    finally:
        store.engine.dispose()
        backend.close()


def items_of(path: Path) -> Dict[str, Dict[str, Any]]:
    return {i["text"]: i for i in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]}


@pytest.fixture(scope="module")
def exported(tracker_db: str, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    out = tmp_path_factory.mktemp("review") / "to_review.yml"
    assert export(tracker_db, out) == 0
    return {"path": out, "items": items_of(out), "url": tracker_db}


def test_export_finds_each_reason(exported):
    items = exported["items"]
    assert items[GIBBERISH]["reasons"] == ["fallback", "low_confidence"]
    assert items[GIBBERISH]["predicted_intent"] == "forgot_password"  # the best guess behind the fallback
    assert items["my inbox does something weird"]["reasons"] == ["fallback"]  # followed by the fallback action
    assert items["hm the other thing"]["reasons"] == ["fallback"]  # followed by ask_rephrase
    assert items[LAPTOP]["reasons"] == ["didnt_work"]  # the problem message, not the greeting in between
    assert items[BOUNCE]["reasons"] == ["ticket"]  # the ticket form became active
    assert items[BLANK_PAGE]["reasons"] == ["ticket"]  # open_ticket, no problem intent: the message before
    assert items[SECOND_SESSION]["reasons"] == ["didnt_work"]  # the earlier session does not count
    assert items[CHINESE]["reasons"] == ["low_confidence"]
    assert items[CHINESE]["language"] == "zh" and items[LAPTOP]["language"] == "en"
    assert all(item["intent"] == "" for item in items.values())


def test_export_leaves_out_payloads_empty_known_and_confident_messages(exported):
    texts = set(exported["items"])
    assert not any(t.startswith("/") or not t.strip() for t in texts)
    assert "forgot pw" not in texts  # already a training example
    assert "my password reset sms never arrives today" not in texts  # confident, nothing went wrong
    assert "my verification fails on the new phone" not in texts  # its "didn't work" came in a later session
    assert "[email]" not in texts  # nothing left once masked


def test_export_deduplicates_with_count_lowest_confidence_and_faq_key(exported):
    matches = [i for i in exported["items"].values() if normalise(i["text"]) == normalise(CODE_QUESTION)]
    assert len(matches) == 1
    item = matches[0]
    assert (item["count"], item["confidence"], item["predicted_intent"]) == (2, 0.55, "faq/code_expiry")
    assert item["reasons"] == ["low_confidence"]
    assert item["first_seen"] == "2026-11-20 09:00 UTC" and item["last_seen"] == "2026-11-20 10:00 UTC"


def test_export_masks_email_and_phone(exported):
    masked = "reach me at [email] or [phone]"
    assert exported["items"][masked]["reasons"] == ["fallback", "low_confidence"]
    content = exported["path"].read_text(encoding="utf-8")
    assert "corp.example" not in content and "1234" not in content


def test_export_file_explains_itself(exported):
    content = exported["path"].read_text(encoding="utf-8")
    assert content.startswith("# Messages from real conversations")
    assert "make review-merge" in content and "faq/code_expiry" in content and "forgot_password" in content
    assert 'intent: ""' in content


def test_export_since_and_counts(exported, tmp_path, capsys):
    out = tmp_path / "since.yml"
    assert OLD in exported["items"]
    capsys.readouterr()
    assert export(exported["url"], out, "--since", "2026-02-01") == 0
    assert OLD not in items_of(out) and GIBBERISH in items_of(out)
    printed = capsys.readouterr().out
    assert "Read 24 user messages in 13 conversations" in printed
    assert f"Exported {len(items_of(out))} messages" in printed


def test_export_keeps_filled_answers_and_skips_what_was_skipped(exported, tmp_path):
    out = tmp_path / "to_review.yml"
    shutil.copy(exported["path"], out)
    items = review.read_review(out)
    for item in items:
        item["intent"] = {LAPTOP: "forgot_password", GIBBERISH: "skip"}.get(item["text"], "")
    review.write_review(out, items, "test", ["forgot_password"])
    assert merge(out, copy_data(tmp_path)) == 0
    items = review.read_review(out)
    items[0]["intent"] = "out_of_scope"
    review.write_review(out, items, "test", ["out_of_scope"])
    assert export(exported["url"], out) == 0
    again = items_of(out)
    assert GIBBERISH not in again  # marked skip
    assert again[items[0]["text"]]["intent"] == "out_of_scope"  # the answer survived the new export
