"""trainer.review: masking, the export's error for an unreadable database, and merging labelled
items into a copy of data/nlu. (Exporting from real tracker stores, SQLite and PostgreSQL, is in
tests/integration/trainer/test_review.py.)"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Dict, List

import pytest
from rasa.shared.nlu.training_data.loading import load_data

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


@pytest.mark.parametrize(
    "said, masked",
    [
        ("mail bo.li@corp.example or call +86 138 1234 5678", "mail [email] or call [phone]"),
        ("我的手机号是13912345678，邮箱是zhang@corp.cn", "我的手机号是[phone]，邮箱是[email]"),
        ("(555) 123-4567 and 010-12345678", "[phone] and [phone]"),
        ("my password is Hunter2! and the code was 482913", "my password is [hidden] and the code was [hidden]"),
        ("pw: abc", "pw: [hidden]"),
        ("我的密码是Abc12345，验证码 123 456", "我的密码是[hidden]，验证码 [hidden]"),
        ("my passphrase is correct horse battery staple and it fails", "my passphrase is [hidden] and it fails"),
        ("482913@qq.com sent me 4111 1111 1111 1111", "[email] sent me [hidden]"),
        # kept: words after "password" that are not secrets, dates, error codes, ticket ids
        ("cant remember the password for my mailbox", "cant remember the password for my mailbox"),
        (
            "my password is wrong and the 6-digit code never arrives",
            "my password is wrong and the 6-digit code never arrives",
        ),
        ("password reset not working since 2026-11-20", "password reset not working since 2026-11-20"),
        ("554 5.7.1 ESO_LOCAL_SPAM, see ALM-000042", "554 5.7.1 ESO_LOCAL_SPAM, see ALM-000042"),
    ],
)
def test_masking(said, masked):
    assert review.mask_personal(said) == masked


def test_export_reports_an_unreadable_database(tmp_path, capsys):
    assert export(f"sqlite:///{tmp_path / 'missing.sqlite3'}", tmp_path / "out.yml") == 1
    assert "no tracker database" in capsys.readouterr().err
    assert not (tmp_path / "missing.sqlite3").exists()
    assert export("postgresql://nobody@127.0.0.1:1/none", tmp_path / "out.yml", "--timeout", "2") == 1
    assert "can't read the conversations" in capsys.readouterr().err


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
