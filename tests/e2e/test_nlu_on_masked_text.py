"""Understanding still works when a message holds a secret, raw or masked (issue 12).

The live message is parsed as typed; what the tracker store keeps, and the next turns read, is
masked (stores/masking.py). For realistic messages with a password or code, in English and
Chinese, the trained model must pick the guide's intent for both forms. Needs the trained model
(ALIMAIL_MODEL, else the newest in models/), loaded in this process.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Tuple

import pytest

from core.secrets import MASK, mask_secrets
from tests.e2e.servers import model_path
from trainer.evaluate import load_agent, predicted_intent

# (message with a secret, the guide intent it asks for)
MESSAGES: List[Tuple[str, str]] = [
    ("forgot my password, it used to be Tr0ub4dor&3", "forgot_password"),
    ("my password is Hunter2! and it stopped working, I think I forgot it", "forgot_password"),
    ("i forgot my password, i tried mypassword=Spring2024! but no luck", "forgot_password"),
    ("reset my password please, the old one was P@ssw0rd9", "forgot_password"),
    ("I can't remember my password, maybe it was Qwerty!234?", "forgot_password"),
    ("the verification code 482913 never arrives", "verification_failed"),
    ("two step verification fails, code 731 642 is rejected", "verification_failed"),
    ("2fa failed, I entered the sms code 55-12-90 and it says wrong", "verification_failed"),
    ("login sms never arrives, last code was 904417", "verification_failed"),
    ("unusual login alert every day, it mentions code 663201", "unusual_login_alerts"),
    ("my mail bounced with ESO_LOCAL_SPAM, my password is Hunter2! if you need it", "eso_local_spam"),
    ("my emails are marked as spam, my password is Hunter2!", "marked_as_spam"),
    ("我的密码是Abc12345，忘记了怎么办", "forgot_password"),
    ("忘记密码了，以前的密码是qwe123!@#", "forgot_password"),
    ("密码忘了，原来的密码：Spring2024", "forgot_password"),
    ("怎么重置密码？旧口令是 hunter2!", "forgot_password"),
    ("验证码123456一直收不到", "verification_failed"),
    ("验证码是482913，登录不了", "verification_failed"),
    ("登录验证失败，短信验证码 731642 输入了也不行", "verification_failed"),
    ("两步验证过不去，动态码９０４４１７不对", "verification_failed"),
    ("在国外收不到短信，验证码 55 12 90 过期了", "verification_failed"),
    ("总是收到异常登录提醒，验证码是 663201", "unusual_login_alerts"),
    ("退信ESO_LOCAL_SPAM，我的密码是Hunter2!", "eso_local_spam"),
    ("我的邮件被标记为垃圾邮件，密码是Abc12345", "marked_as_spam"),
]


@pytest.fixture(scope="module")
def predictions() -> Dict[str, str]:
    """The predicted intent of every message, raw and masked, from the trained model."""
    agent: Any = load_agent(model_path())
    texts = [text for message, _ in MESSAGES for text in (message, mask_secrets(message))]

    async def parse_all() -> Dict[str, str]:
        return {text: predicted_intent(await agent.parse_message(text)) for text in texts}

    return asyncio.run(parse_all())


@pytest.mark.parametrize(("message", "intent"), MESSAGES, ids=[f"{i:02d}" for i in range(len(MESSAGES))])
def test_the_masked_message_is_understood_as_the_raw_one(
    predictions: Dict[str, str], message: str, intent: str
) -> None:
    masked = mask_secrets(message)
    assert MASK in masked and masked != message, f"no secret masked in {message!r}: the case tests nothing"
    # Masking never turns a right answer into a wrong one (it may turn a wrong one right: the raw
    # "…maybe it was Qwerty!234?" reads as the password-rules FAQ, the masked one as forgot_password).
    if predictions[message] == intent:
        assert predictions[masked] == intent, f"{masked!r} understood differently from {message!r}"


def test_the_guides_are_chosen_as_before(predictions: Dict[str, str]) -> None:
    """The expected guide for (nearly) every masked message: what the next turns read. What masking must
    not change is tested one by one above; this bounds the model's own misses."""
    right = [message for message, intent in MESSAGES if predictions[mask_secrets(message)] == intent]
    assert len(right) >= len(MESSAGES) - 2, [m for m, _ in MESSAGES if m not in right]


def test_both_languages_and_every_guide_are_covered() -> None:
    chinese = [message for message, _ in MESSAGES if any("\u4e00" <= ch <= "\u9fff" for ch in message)]
    assert len(chinese) >= 10 and len(MESSAGES) - len(chinese) >= 10
    assert {intent for _, intent in MESSAGES} == {
        "forgot_password",
        "verification_failed",
        "eso_local_spam",
        "marked_as_spam",
        "unusual_login_alerts",
    }
