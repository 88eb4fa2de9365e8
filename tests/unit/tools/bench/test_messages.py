"""The message list (tools/bench/messages.py): markup stripping, intent examples, the seeded plan."""

from __future__ import annotations

import pytest

from tools.bench import messages
from trainer.project import ANNOTATION


@pytest.mark.parametrize(
    "text, expected",
    [
        ("my mail bounced with [ESO_LOCAL_SPAM](error_code)", "my mail bounced with ESO_LOCAL_SPAM"),
        ('[eso local spam]{"entity": "error_code", "value": "ESO_LOCAL_SPAM"} again', "eso local spam again"),
        ('[admin](role:postmaster) and [x](a) [y]{"entity": "b"}', "admin and x y"),
        ("550 5.7.1 [ESO_LOCAL_SPAM](error_code): spamed", "550 5.7.1 ESO_LOCAL_SPAM: spamed"),
        ("退信 [ESO_LOCAL_SPAM](error_code) 怎么办", "退信 ESO_LOCAL_SPAM 怎么办"),
        ("no markup [just brackets] here", "no markup [just brackets] here"),
    ],
)
def test_strip_markup(text, expected):
    assert messages.strip_markup(text) == expected


def test_nlu_examples_reads_intents_only():
    document = {
        "nlu": [
            {"intent": "greet", "examples": "- hi\n- [hello](x) there\n\n"},
            {"lookup": "role", "examples": "- admin\n"},
            {"intent": "bye", "examples": [{"text": "bye"}, "ciao"]},
        ]
    }
    assert messages.nlu_examples(document) == ["hi", "hello there", "bye", "ciao"]
    assert messages.nlu_examples({}) == []


def test_message_plan_is_seeded_and_shared():
    pools = {"en": [f"en {i}" for i in range(10)], "zh": [f"zh {i}" for i in range(5)]}
    first, second = messages.message_plan(pools, 30), messages.message_plan(pools, 30)
    assert first == second
    assert len(first) == 30 and first[:15] != sorted(first[:15])
    assert {lang for lang, _ in first} == {"en", "zh"}
    assert first[15:] == first[:15]  # cycled when the pools are shorter than the count
    assert messages.message_plan(pools, 30, seed=1) != first


def test_message_plan_of_empty_pools_fails():
    with pytest.raises(ValueError, match="no messages"):
        messages.message_plan({"en": []}, 3)


def test_held_out_messages_have_no_markup():
    texts, info = messages.load_messages(300)
    assert info["count"] == 300 and info["per_language"]["en"] > 0 and info["per_language"]["zh"] > 0
    assert sum(info["per_language"].values()) == 300
    assert info["sources"] == ["tests/nlu/heldout.yml", "tests/nlu/heldout_zh.yml"]
    assert not any(ANNOTATION.search(m) for m in texts)
    assert texts == messages.load_messages(300)[0]
