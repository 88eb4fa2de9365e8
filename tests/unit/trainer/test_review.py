"""trainer.review: export from a real Rasa SQLTrackerStore (SQLite file and the machine's
PostgreSQL), then merge labelled items into a copy of data/nlu.

PostgreSQL: a throw-away schema (`r_<uuid hex>`, reached with `?options=-csearch_path%3D<schema>`),
dropped with CASCADE at the end. PostgreSQL is expected to run here: when it is not
reachable the PostgreSQL tests fail (REVIEW_TEST_POSTGRES_URL, default as the ticket tests).
"""

from __future__ import annotations

import asyncio
import difflib
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
from rasa.shared.nlu.training_data.loading import load_data
from sqlalchemy import create_engine, text

from trainer import review
from trainer.review_nlu import append_example, normalise

ROOT = Path(__file__).resolve().parents[3]
POSTGRES_URL = os.environ.get("REVIEW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DAY = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc).timestamp()
OLD_DAY = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc).timestamp()


# --- building conversations ----------------------------------------------------------------------
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


GIBBERISH = "zzkq blorp wibble"
CODE_QUESTION = "how long does the sms code last for"
LAPTOP = "cant get into my mailbox since the new laptop"
BOUNCE = "my colleague says my mails never arrive, the bounce says spam"
BLANK_PAGE = "the webmail shows a blank page after login"
SECOND_SESSION = "about that thing from before"
CHINESE = "我的邮箱一直收到异地登录提醒怎么办"
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
        .action("action_out_of_scope", "I can't")
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


# --- the tracker stores --------------------------------------------------------------------------
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
        except Exception as error:  # noqa: BLE001
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


def run(*argv: Any) -> int:
    return review.main([str(a) for a in argv])


def export(url: str, out: Path, *extra: Any) -> int:
    return run(
        "export",
        "--db-url",
        url,
        "--out",
        out,
        "--data-dir",
        ROOT / "data" / "nlu",
        "--domain",
        ROOT / "domain.yml",
        "--test-data",
        ROOT / "tests" / "nlu",
        *extra,
    )


def items_of(path: Path) -> Dict[str, Dict[str, Any]]:
    return {i["text"]: i for i in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]}


@pytest.fixture(scope="module")
def exported(tracker_db: str, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    out = tmp_path_factory.mktemp("review") / "to_review.yml"
    assert export(tracker_db, out) == 0
    return {"path": out, "items": items_of(out), "url": tracker_db}


# --- export --------------------------------------------------------------------------------------
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


@pytest.mark.parametrize(
    "said, masked",
    [
        ("mail bo.li@corp.example or call +86 138 1234 5678", "mail [email] or call [phone]"),
        ("我的手机号是13912345678，邮箱是zhang@corp.cn", "我的手机号是[phone]，邮箱是[email]"),
        ("(555) 123-4567 and 010-12345678", "[phone] and [phone]"),
        ("my password is Hunter2! and the code was 482913", "my password is [hidden] and the code was [hidden]"),
        ("pw: abc", "pw: [hidden]"),
        # kept: words after "password" that are not secrets, dates, error codes, ticket ids
        ("cant remember the password for my mailbox", "cant remember the password for my mailbox"),
        ("password reset not working since 2026-11-20", "password reset not working since 2026-11-20"),
        ("554 5.7.1 ESO_LOCAL_SPAM, see ALM-000042", "554 5.7.1 ESO_LOCAL_SPAM, see ALM-000042"),
    ],
)
def test_masking(said, masked):
    assert review.mask_personal(said) == masked


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


def test_export_reports_an_unreadable_database(tmp_path, capsys):
    assert export(f"sqlite:///{tmp_path / 'missing.sqlite3'}", tmp_path / "out.yml") == 1
    assert "no tracker database" in capsys.readouterr().err
    assert not (tmp_path / "missing.sqlite3").exists()
    assert export("postgresql://nobody@127.0.0.1:1/none", tmp_path / "out.yml", "--timeout", "2") == 1
    assert "can't read the conversations" in capsys.readouterr().err


# --- merge ---------------------------------------------------------------------------------------
ZH_FORGOT = 'version: "3.1"\nnlu:\n- intent: forgot_password\n  examples: |\n    - 我忘记密码了\n    - 忘记邮箱密码\n'


def copy_data(tmp_path: Path) -> Path:
    """A copy of the English files of data/nlu, with one Chinese file holding forgot_password only."""
    target = tmp_path / "nlu"
    if not target.exists():
        (target / "zh").mkdir(parents=True)
        for path in (ROOT / "data" / "nlu").glob("*.yml"):
            shutil.copy(path, target / path.name)
        (target / "zh" / "forgot_password.yml").write_text(ZH_FORGOT, encoding="utf-8")
    return target


def review_file(tmp_path: Path, answers: Dict[str, str]) -> Path:
    path = tmp_path / "review" / "to_review.yml"
    items = [
        {
            "text": t,
            "predicted_intent": "out_of_scope",
            "confidence": 0.4,
            "reasons": ["fallback"],
            "count": 1,
            "language": "zh" if t == CHINESE else "en",
            "intent": a,
        }
        for t, a in answers.items()
    ]
    review.write_review(path, items, "test", ["forgot_password"])
    return path


def snapshot(folder: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def inserted_lines(before: bytes, after: bytes) -> List[str]:
    """The lines added to a file; fails when any other line changed."""
    old, new = before.decode().splitlines(keepends=True), after.decode().splitlines(keepends=True)
    operations = difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes()
    assert all(op in ("equal", "insert") for op, *_ in operations), f"lines changed: {operations}"
    return [line for op, _, _, j1, j2 in operations if op == "insert" for line in new[j1:j2]]


def merge(path: Path, data: Path) -> int:
    return run(
        "merge", path, "--data-dir", data, "--domain", ROOT / "domain.yml", "--test-data", ROOT / "tests" / "nlu"
    )


def test_merge_appends_to_the_right_file_and_block(tmp_path, capsys):
    data = copy_data(tmp_path)
    before = snapshot(data)
    chinese_password = "邮箱密码想不起来了"
    path = review_file(
        tmp_path,
        {
            LAPTOP: "forgot_password",
            CODE_QUESTION: "faq/code_expiry",
            chinese_password: "forgot_password",
            CHINESE: "unusual_login_alerts",
            BLANK_PAGE: "",
            GIBBERISH: "skip",
            "forgot pw": "forgot_password",
        },
    )
    assert merge(path, data) == 0
    after = snapshot(data)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {"forgot_password.yml", "faq.yml", "zh/forgot_password.yml", "unusual_login_alerts.yml"}
    assert inserted_lines(before["forgot_password.yml"], after["forgot_password.yml"]) == [f"    - {LAPTOP}\n"]
    assert inserted_lines(before["zh/forgot_password.yml"], after["zh/forgot_password.yml"]) == [
        f"    - {chinese_password}\n"
    ]
    # no Chinese file holds unusual_login_alerts: next to the English examples
    assert inserted_lines(before["unusual_login_alerts.yml"], after["unusual_login_alerts.yml"]) == [
        f"    - {CHINESE}\n"
    ]
    assert inserted_lines(before["faq.yml"], after["faq.yml"]) == [f"    - {CODE_QUESTION}\n"]
    faq_lines = after["faq.yml"].decode().splitlines()
    at = faq_lines.index(f"    - {CODE_QUESTION}")
    owner = next(line for line in reversed(faq_lines[:at]) if line.startswith("- intent:"))
    assert owner == "- intent: faq/code_expiry"  # at the end of that block, before the next intent
    assert next(line for line in faq_lines[at + 1 :] if line.strip()).startswith("- intent: faq/")

    training = load_data(str(data))
    labels = {m.get("text"): m.get("intent_response_key") or m.get("intent") for m in training.intent_examples}
    assert labels[LAPTOP] == "forgot_password" and labels[CODE_QUESTION] == "faq/code_expiry"
    assert labels[chinese_password] == "forgot_password" and labels[CHINESE] == "unusual_login_alerts"

    printed = capsys.readouterr().out
    assert f"added to {data / 'forgot_password.yml'} (forgot_password): {LAPTOP!r}" in printed
    assert "already there: 'forgot pw'" in printed
    left = review.read_review(path)
    assert [i["text"] for i in left] == [BLANK_PAGE]  # merged, skipped and known items are gone
    assert review.read_skipped(path.parent / "skipped.yml") == [GIBBERISH]

    assert merge(path, data) == 0
    assert snapshot(data) == after  # nothing more to do


def test_merge_refuses_unknown_intents_and_writes_nothing(tmp_path, capsys):
    data = copy_data(tmp_path)
    path = review_file(tmp_path, {LAPTOP: "forgot_password", BLANK_PAGE: "forgot_pasword", GIBBERISH: "faq"})
    before, review_before = snapshot(data), path.read_bytes()
    assert merge(path, data) == 1
    error = capsys.readouterr().err
    assert "Nothing was merged" in error
    assert f"item 2 ({BLANK_PAGE!r}): unknown intent 'forgot_pasword'. Did you mean forgot_password?" in error
    assert f"item 3 ({GIBBERISH!r}): unknown intent 'faq'" in error
    assert "Valid intents: forgot_password, verification_failed" in error and "faq/code_expiry" in error
    assert snapshot(data) == before and path.read_bytes() == review_before
    assert not (path.parent / "skipped.yml").exists()


def test_merge_never_copies_held_out_test_data(tmp_path, capsys):
    heldout = load_data(str(ROOT / "tests" / "nlu" / "heldout.yml")).intent_examples[0]
    data = copy_data(tmp_path)
    before = snapshot(data)
    path = review_file(tmp_path, {heldout.get("text"): heldout.get("intent_response_key") or heldout.get("intent")})
    assert merge(path, data) == 0
    assert "held-out test data" in capsys.readouterr().out
    assert snapshot(data) == before


@pytest.mark.parametrize(
    "content, expected",
    [
        (
            "nlu:\n- intent: a\n  examples: |\n    - x\n\n- intent: b\n  examples: |\n    - y\n",
            "nlu:\n- intent: a\n  examples: |\n    - x\n    - new\n\n- intent: b\n  examples: |\n    - y\n",
        ),
        (
            "nlu:\r\n- intent: b\r\n  examples: |\r\n    - y",
            "nlu:\r\n- intent: b\r\n  examples: |\r\n    - y\r\n    - new\r\n",
        ),
        (
            "nlu:\n  - intent: b  # comment\n    examples: |-\n      - y\n# end\n",
            "nlu:\n  - intent: b  # comment\n    examples: |-\n      - y\n      - new\n# end\n",
        ),
    ],
    ids=["middle-block", "crlf-no-final-newline", "indented-list"],
)
def test_append_example_edits_only_the_block(content, expected):
    intent = "a" if "- intent: a" in content else "b"
    assert append_example(content, intent, "new") == expected
