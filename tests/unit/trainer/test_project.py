"""trainer/project.py: reading the training files into records that know their file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest

from trainer.project import (
    LineDict,
    language_of,
    load_yaml,
    nlu_examples,
    normalise,
    plain_text,
    read_project,
    relative,
)

DOMAIN = """\
version: "3.1"
intents:
  - greet
  - forgot_password   # a comment
  - faq
responses:
  utter_greet:
    - text: Hi
  utter_bye:
    - text: Bye
actions:
  - action_start_guide
  - action_next_step
forms:
  ticket_form:
    required_slots: []
"""

NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - "hi there"

- intent: forgot_password
  examples: |
    - forgot my [password](secret)
    - 忘记密码了
- synonym: pw
  examples: |
    - pwd
"""

RULES = """\
version: "3.1"
rules:
  - rule: greet back
    steps:
      - intent: greet
      - action: utter_greet
  - rule: in the form
    condition:
      - active_loop: ticket_form
    steps:
      - intent: forgot_password
      - action: action_start_guide
"""

STORY = """\
version: "3.1"
stories:
  - story: hello
    steps:
      - user: |
          hello
        intent: greet
      - action: utter_greet
"""

HELDOUT = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hey you\n'
RESPONSES = 'version: "3.1"\nresponses:\n  utter_faq/code_expiry:\n    - text: Ten minutes\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    files: Dict[str, str] = {
        "domain.yml": DOMAIN,
        "data/nlu/greet.yml": NLU,
        "data/rules.yml": RULES,
        "data/stories.yml": STORY.replace("stories:\n  - story: hello", "stories:\n  - story: trained"),
        "data/responses/faq.yml": RESPONSES,
        "tests/nlu/heldout.yml": HELDOUT,
        "tests/nlu/heldout_zh.yml": HELDOUT.replace("hey you", "你好呀"),
        "tests/nlu/other.yml": HELDOUT,
        "tests/nlu/paraphrase.yml": HELDOUT.replace("hey you", "hiya there"),
        "tests/nlu/paraphrase_zh.yml": HELDOUT.replace("hey you", "嗨你好"),
        "tests/stories/test_hello.yml": STORY,
        "knowledge/alimail_security.yml": "default_language: en\nproblems: []\n",
    }
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "example, plain",
    [
        ("forgot my [password](secret)", "forgot my password"),
        ("code [ESO_LOCAL_SPAM](error_code:ESO_LOCAL_SPAM) again", "code ESO_LOCAL_SPAM again"),
        ('I am [postmaster]{"entity": "role"}', "I am postmaster"),
        ("[ALM-000042][ticket] status ", "ALM-000042 status"),
        ("no [markup] here", "no [markup] here"),
    ],
)
def test_plain_text_drops_entity_markup(example: str, plain: str) -> None:
    assert plain_text(example) == plain


def test_near_duplicates_normalise_alike() -> None:
    assert normalise("Forgot my PASSWORD...!") == normalise("forgot my password") == "forgotmypassword"
    assert normalise("忘记密码了。") == normalise("忘记 密码了") == "忘记密码了"
    assert normalise("ｆｕｌｌ　ｗｉｄｔｈ") == "fullwidth"  # NFKC
    assert normalise("[pw](secret) reset") == "pwreset"


def test_language_of_an_example() -> None:
    assert (language_of("pw忘了"), language_of("forgot pw"), language_of("12345")) == ("zh", "en", "en")


def test_relative_paths_and_paths_outside_the_root(tmp_path: Path) -> None:
    assert relative(tmp_path / "data" / "x.yml", tmp_path) == "data/x.yml"
    assert relative(Path("/elsewhere/x.yml"), tmp_path) == "/elsewhere/x.yml"


def test_yaml_mappings_know_their_line(project: Path) -> None:
    rules = load_yaml(project / "data" / "rules.yml")
    assert isinstance(rules, LineDict) and rules.line == 1
    assert [rule.line for rule in rules["rules"]] == [3, 7]
    assert rules["rules"][1]["condition"][0].line == 9


def test_nlu_examples_with_their_own_lines(project: Path) -> None:
    examples = list(nlu_examples(project / "data" / "nlu" / "greet.yml", project))
    assert [(e.intent, e.text, e.path, e.line) for e in examples] == [
        ("greet", "hello", "data/nlu/greet.yml", 5),
        ("greet", "hi there", "data/nlu/greet.yml", 6),
        ("forgot_password", "forgot my password", "data/nlu/greet.yml", 10),
        ("forgot_password", "忘记密码了", "data/nlu/greet.yml", 11),
    ]
    assert [(e.language, e.key) for e in examples[2:]] == [("en", "forgotmypassword"), ("zh", "忘记密码了")]


def test_read_project(project: Path) -> None:
    read = read_project(project)
    assert read.intents == {"greet": 3, "forgot_password": 4, "faq": 5}
    assert read.actions == {"action_start_guide": 12, "action_next_step": 13}
    assert read.responses == {"utter_greet": 7, "utter_bye": 9, "utter_faq/code_expiry": 3}
    assert list(read.forms) == ["ticket_form"]
    assert [e.text for e in read.training] == ["hello", "hi there", "forgot my password", "忘记密码了"]
    assert {lang: [e.text for e in found] for lang, found in read.heldout.items()} == {
        "en": ["hey you"],
        "zh": ["你好呀"],
    }  # tests/nlu/other.yml is not a held-out file
    assert {lang: [e.text for e in found] for lang, found in read.paraphrase.items()} == {
        "en": ["hiya there"],
        "zh": ["嗨你好"],
    }
    assert [(s.kind, s.name, s.path, s.line, s.story) for s in read.rules] == [
        ("intent", "greet", "data/rules.yml", 5, "greet back"),
        ("action", "utter_greet", "data/rules.yml", 6, "greet back"),
        ("active_loop", "ticket_form", "data/rules.yml", 9, "in the form"),
        ("intent", "forgot_password", "data/rules.yml", 11, "in the form"),
        ("action", "action_start_guide", "data/rules.yml", 12, "in the form"),
        ("intent", "greet", "data/stories.yml", 5, "trained"),
        ("action", "utter_greet", "data/stories.yml", 8, "trained"),
    ]
    assert [(s.kind, s.name, s.path) for s in read.test_steps] == [
        ("intent", "greet", "tests/stories/test_hello.yml"),
        ("action", "utter_greet", "tests/stories/test_hello.yml"),
    ]
    assert read.knowledge == {"default_language": "en", "problems": []}
