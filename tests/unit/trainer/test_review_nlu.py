"""trainer/review_nlu.py: the training files a review merge reads, and appending an example to the right block."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.review_nlu import (
    NluFileError,
    append_example,
    check_example_added,
    load_nlu,
    normalise,
    valid_intents,
    write_atomically,
)


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


def test_append_example_refuses_an_intent_the_file_does_not_hold() -> None:
    with pytest.raises(NluFileError):
        append_example("nlu:\n- intent: a\n  examples: |\n    - x\n", "b", "new")


def test_a_breaking_example_is_caught_before_writing(tmp_path: Path) -> None:
    content = "nlu:\n- intent: a\n  examples: |\n    - x\n"
    added = append_example(content, "a", "new")
    check_example_added(added, tmp_path / "a.yml", "a", "new")
    with pytest.raises(NluFileError, match="did not end up in the examples of a"):
        check_example_added(content, tmp_path / "a.yml", "a", "new")
    with pytest.raises(NluFileError, match="would break the YAML"):
        check_example_added("nlu: [\n", tmp_path / "a.yml", "a", "new")


def nlu_file(path: Path, *blocks: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('version: "3.1"\nnlu:\n' + "".join(blocks), encoding="utf-8")


def block(intent: str, *examples: str) -> str:
    return f"- intent: {intent}\n  examples: |\n" + "".join(f"    - {e}\n" for e in examples)


def test_where_a_labelled_example_goes(tmp_path: Path) -> None:
    data = tmp_path / "nlu"
    nlu_file(data / "forgot.yml", block("forgot_password", "Forgot my [pw](secret)!"), block("greet", "hi"))
    nlu_file(data / "faq.yml", block("faq/code_expiry", "how long is the code valid"))
    nlu_file(data / "zh" / "forgot.yml", block("forgot_password", "忘记密码"))
    nlu_file(data / "zh" / "misc.yml", block("greet", "你好"))
    nlu_file(tmp_path / "tests" / "heldout.yml", block("greet", "hello there"))
    loaded = load_nlu(data, [tmp_path / "tests", tmp_path / "missing"])
    assert loaded.examples[normalise("forgot my pw")] == "forgot_password"  # markup and punctuation ignored
    assert loaded.examples[normalise("hello there")] == "greet"  # held-out examples are known...
    assert all(p.is_relative_to(data) for files in loaded.holders.values() for p in files)  # ...never targets
    assert loaded.target_file("forgot_password", "en") == data / "forgot.yml"
    assert loaded.target_file("forgot_password", "zh") == data / "zh" / "forgot.yml"  # same name in zh/
    assert loaded.target_file("greet", "zh") == data / "zh" / "misc.yml"  # another zh/ file holding it
    assert loaded.target_file("faq/code_expiry", "zh") == data / "faq.yml"  # no zh/ file: next to English
    assert loaded.target_file("unknown", "en") is None


def test_valid_intents_expand_the_retrieval_intent(tmp_path: Path) -> None:
    domain = tmp_path / "domain.yml"
    domain.write_text("intents:\n  - greet\n  - faq\n  - inform_role:\n      use_entities: [role]\n", encoding="utf-8")
    data = tmp_path / "nlu"
    nlu_file(data / "faq.yml", block("faq/b_key", "x"), block("faq/a_key", "y"), block("other/z", "z"))
    assert valid_intents(domain, load_nlu(data)) == ["greet", "inform_role", "faq/a_key", "faq/b_key"]


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "nlu" / "broken.yml"
    nlu_file(broken, "- intent: [\n")
    with pytest.raises(NluFileError, match="broken.yml: can't be read as YAML"):
        load_nlu(tmp_path / "nlu")


def test_write_atomically_keeps_the_files_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "a.yml"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o600)
    write_atomically(path, "new\r\nline")
    assert path.read_bytes() == b"new\r\nline" and path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["a.yml"]
