"""components/mixed_script_tokenizer.py: spaCy's (or whitespace) tokens with Chinese runs cut by jieba.

Needs what `make` builds: the spaCy pipeline build/spacy/en_lookup and jieba's dictionary build/jieba/dict.txt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from components.mixed_script_tokenizer import (
    MixedScriptTokenizer,
    MixedScriptWhitespaceTokenizer,
    configure_jieba,
    segment,
    split_chinese,
)

ROOT = Path(__file__).resolve().parents[3]
SPACY_MODEL = ROOT / "build" / "spacy" / "en_lookup"
JIEBA_DICT = ROOT / "build" / "jieba" / "dict.txt"

needs_jieba = pytest.mark.skipif(not JIEBA_DICT.is_file(), reason="build/jieba/dict.txt missing: run `make jieba-dict`")
needs_spacy = pytest.mark.skipif(
    not (SPACY_MODEL / "meta.json").is_file(), reason="build/spacy/en_lookup missing: run `make spacy-model`"
)

Spans = List[Tuple[str, int, int]]


def spans(tokens: List[Token]) -> Spans:
    return [(t.text, t.start, t.end) for t in tokens]


def assert_offsets_match(text: str, tokens: List[Token]) -> None:
    for token in tokens:
        assert text[token.start : token.end].lower() == token.text.lower(), (token.text, token.start, token.end)


def create(cls: Any, config: Dict[str, Any], storage_dir: Path) -> Any:
    return cls.create(
        {**cls.get_default_config(), **config},
        LocalModelStorage(storage_dir),
        Resource(cls.__name__),
        ExecutionContext(GraphSchema({}), "test"),
    )


@pytest.fixture(scope="module", autouse=True)
def jieba_dictionary() -> None:
    if JIEBA_DICT.is_file():
        configure_jieba({"dictionary": str(JIEBA_DICT)})


# -- the pure parts ----------------------------------------------------------------------------------
@needs_jieba
def test_segment_gives_words_at_the_offset_without_whitespace():
    tokens = segment("收到 退信", offset=10)
    assert [t.text for t in tokens] == ["收到", "退信"]
    assert [(t.start, t.end) for t in tokens] == [(10, 12), (13, 15)]
    assert all(t.lemma == t.text for t in tokens)


@needs_jieba
def test_segment_lowercases_the_lemma_of_latin_parts():
    tokens = segment("收到ESO退信")
    assert spans(tokens) == [("收到", 0, 2), ("ESO", 2, 5), ("退信", 5, 7)]
    assert tokens[1].lemma == "eso"


@needs_jieba
def test_split_chinese_replaces_only_the_tokens_holding_chinese():
    english = Token("bounce", 0, lemma="bounce")
    chinese = Token("收到退信", 7)
    tokens = split_chinese([english, chinese, Token("ALM-000123", 12)])
    assert tokens[0] is english and tokens[-1].text == "ALM-000123"
    assert spans(tokens[1:-1]) == [("收到", 7, 9), ("退信", 9, 11)]
    assert split_chinese([]) == []


def test_a_missing_dictionary_is_named_with_the_make_target(tmp_path):
    with pytest.raises(FileNotFoundError, match="make jieba-dict") as error:
        configure_jieba({"dictionary": str(tmp_path / "nope.txt")})
    assert str(tmp_path / "nope.txt") in str(error.value)


@needs_jieba
def test_user_words_are_kept_whole():
    word = "邮箱钓鱼演练通知"
    assert [t.text for t in segment(word)] != [word]  # jieba cuts it on its own
    configure_jieba({"dictionary": str(JIEBA_DICT), "user_words": [word]})
    assert [t.text for t in segment(f"收到{word}了")] == ["收到", word, "了"]


def test_defaults_and_packages():
    assert MixedScriptTokenizer.get_default_config()["user_words"] == []
    assert MixedScriptTokenizer.get_default_config()["dictionary"] is None
    assert MixedScriptTokenizer.required_packages() == ["spacy", "jieba"]
    assert MixedScriptWhitespaceTokenizer.required_packages() == ["jieba"]


# -- the components on rasa Messages -----------------------------------------------------------------
@needs_jieba
@pytest.mark.parametrize(
    "text, expected",
    [
        ("hello 收不到验证码 please", ["hello", "收", "不到", "验证码", "please"]),
        ("我 忘记密码了", ["我", "忘记", "密码", "了"]),
        ("收到ESO_LOCAL_SPAM退信", ["收到", "ESO", "_", "LOCAL", "_", "SPAM", "退信"]),
        ("thanks 🙂", ["thanks"]),
    ],
)
def test_the_whitespace_variant_cuts_chinese_and_keeps_english(tmp_path, text, expected):
    tokenizer = create(
        MixedScriptWhitespaceTokenizer, {"dictionary": str(JIEBA_DICT), "user_words": ["验证码"]}, tmp_path
    )
    (message,) = tokenizer.process([Message({TEXT: text})])
    tokens = message.get("text_tokens")
    assert [t.text for t in tokens] == expected
    assert_offsets_match(text, tokens)


@pytest.fixture(scope="module")
def spacy_model(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Any, Any]:
    if not (SPACY_MODEL / "meta.json").is_file():
        pytest.skip("build/spacy/en_lookup missing: run `make spacy-model`")
    from rasa.nlu.utils.spacy_utils import SpacyNLP

    nlp = create(SpacyNLP, {"model": str(SPACY_MODEL)}, tmp_path_factory.mktemp("spacy"))
    return nlp, nlp.provide()


@needs_spacy
@needs_jieba
@pytest.mark.parametrize(
    "text, expected",
    [
        ("I bounced emails", ["i", "bounced", "emails"]),
        ("收不到验证码", ["收", "不到", "验证码"]),
        ("I got 收到ESO_LOCAL_SPAM退信", ["i", "got", "收到", "eso", "_", "local", "_", "spam", "退信"]),
        ("", []),
        ("   ", []),
    ],
)
def test_spacy_tokens_with_chinese_cut_by_jieba(spacy_model, tmp_path, text, expected):
    nlp, model = spacy_model
    tokenizer = create(MixedScriptTokenizer, {"dictionary": str(JIEBA_DICT), "user_words": ["验证码"]}, tmp_path)
    message = Message({TEXT: text})
    nlp.process([message], model)
    tokenizer.process([message])
    tokens = message.get("text_tokens")
    assert [t.text for t in tokens] == expected
    assert_offsets_match(text, tokens)


@needs_spacy
@needs_jieba
def test_spacy_lemmas_are_kept_for_english_tokens(spacy_model, tmp_path):
    nlp, model = spacy_model
    tokenizer = create(MixedScriptTokenizer, {"dictionary": str(JIEBA_DICT)}, tmp_path)
    message = Message({TEXT: "emails bounced 退信"})
    nlp.process([message], model)
    tokenizer.process([message])
    assert [t.lemma for t in message.get("text_tokens")] == ["email", "bounce", "退信"]
