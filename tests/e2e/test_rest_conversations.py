"""End to end over the REST channel: the real Rasa server and action server, the trained model."""

from __future__ import annotations

import re
from typing import Any, Dict, List

import pytest
import requests

from core.knowledge import knowledge


def button_payload(replies: List[Dict[str, Any]], title: str) -> str:
    """The payload of the button titled `title` in the replies (fails when absent)."""
    for reply in replies:
        for button in reply.get("buttons") or []:
            if button["title"] == title:
                return button["payload"]
    raise AssertionError(f"no button {title!r} in {replies!r}")


def text_of(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def test_whole_forgotten_password_guide_by_buttons(servers, sender):
    kb = knowledge()
    steps = [s.text.get("en") for s in kb.problem("forgot_password").steps]
    replies = servers.say(sender, "hi, i forgot my password")
    assert kb.problem("forgot_password").likely_cause.get("en") in text_of(replies)
    replies = servers.say(sender, button_payload(replies, "Yes, one of them"))
    assert text_of(replies) == f"Step 1 of 6: {steps[0]}"
    for number in range(2, 7):
        replies = servers.say(sender, button_payload(replies, "Done, next step"))
        assert text_of(replies) == f"Step {number} of 6: {steps[number - 1]}"
    replies = servers.say(sender, button_payload(replies, "Done, next step"))
    assert "After reset, log in successfully using the new password" in text_of(replies)
    assert "Did it work?" in text_of(replies)
    replies = servers.say(sender, button_payload(replies, "Yes, it worked"))
    assert "glad it's sorted" in text_of(replies)


def test_verification_branch_by_role_buttons(servers, sender):
    replies = servers.say(sender, "2 step verification keeps failing when i log in from abroad")
    assert "postmaster" in text_of(replies)
    postmaster = servers.say(sender, button_payload(replies, "I'm the postmaster"))
    assert "Step 1 of 4: Log in to the [Alibaba Mail Console]" in text_of(postmaster)

    other = sender + "-user"
    replies = servers.say(other, "/verification_failed")
    replies = servers.say(other, button_payload(replies, "Regular user"))
    assert "your postmaster must reset your security settings" in text_of(replies)
    replies = servers.say(other, button_payload(replies, "Open a ticket"))
    assert "Which email address" in text_of(replies)
    replies = servers.say(other, "bo@corp.example")
    assert "You are a regular user" in text_of(replies)
    assert "postmaster queue, priority High" in text_of(replies)
    replies = servers.say(other, button_payload(replies, "Yes, open it"))
    assert re.search(r"Your ticket \*\*ALM-\d{6}\*\* is open in the postmaster queue", text_of(replies))


def test_pasted_bounce_step_failure_and_honest_escalation(servers, sender):
    replies = servers.say(sender, "Delivery failed: 554 ESO_LOCAL_SPAM: spamed by local spam engine")
    assert "Do not resend the same email repeatedly" in text_of(replies)
    replies = servers.say(sender, "next")
    assert text_of(replies).startswith("Step 2 of 4")
    replies = servers.say(sender, "didnt work")
    assert "step 2 didn't work" in text_of(replies)
    replies = servers.say(sender, "yes")
    assert "Which email address" in text_of(replies)
    assert not re.search(r"ALM-\d", text_of(replies))  # nothing is stored yet
    replies = servers.say(sender, "cancel")
    assert "cancelled the ticket" in text_of(replies)


def test_faq_mid_guide_then_continue(servers, sender):
    servers.say(sender, "/forgot_password")
    servers.say(sender, "/affirm")
    servers.say(sender, "/next_step")
    replies = servers.say(sender, "how many minutes is the verification code valid")
    assert knowledge().faq("code_expiry").answer.get("en") == replies[0]["text"]
    assert "Back to **Forgotten Password**" in text_of(replies)
    assert replies[-1]["text"].startswith("Step 2 of 6")
    replies = servers.say(sender, "/next_step")
    assert replies[-1]["text"].startswith("Step 3 of 6")


def first_fallback_stage(replies: List[Dict[str, Any]]) -> None:
    """The first fallback answer offers topics (or likely intents) and "Something else"."""
    assert "understand" in text_of(replies)
    assert button_payload(replies, "Something else") == "/out_of_scope"
    assert button_payload(replies, "I forgot my password") == "/forgot_password"


def test_did_you_mean_button_continues_with_the_chosen_intent(servers, sender):
    first_fallback_stage(servers.say(sender, "/nlu_fallback"))
    replies = servers.say(sender, "/forgot_password")  # what a suggestion button sends
    assert "Forgotten Password" in text_of(replies)
    assert "secure phone number" in text_of(replies)


def test_two_messages_not_understood_offer_escalation(servers, sender):
    first_fallback_stage(servers.say(sender, "/nlu_fallback"))
    replies = servers.say(sender, "/nlu_fallback")
    assert "still couldn't understand" in text_of(replies)
    assert button_payload(replies, "Open a ticket") == "/open_ticket"
    replies = servers.say(sender, "yes please")
    assert "Which email address" in text_of(replies)


def test_something_else_asks_to_rephrase_then_understands(servers, sender):
    first_fallback_stage(servers.say(sender, "/nlu_fallback"))
    replies = servers.say(sender, "/out_of_scope")  # the "Something else" button
    assert "other words" in text_of(replies)
    replies = servers.say(sender, "my newsletter got flagged as spam")
    assert "Legitimate mail marked as spam" in text_of(replies)


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   \n\t ",
        "a" * 10_000,
        "word " * 2_000,
        "🙂🔥🙂",
        "收到ESO_LOCAL_SPAM退信",
        "Привет, я забыл пароль от почты",
        "<script>alert(1)</script>",
    ],
)
def test_bad_input_gets_a_sensible_reply_and_servers_keep_running(servers, sender, message):
    replies = servers.say(sender, message)
    assert replies, f"no reply to {message[:30]!r}"
    assert all(r.get("text") for r in replies)
    assert servers.alive()
    assert requests.get(f"{servers.action_url}/health", timeout=5).status_code == 200
    # the conversation goes on normally afterwards
    assert servers.say(sender, "/help")


def test_malformed_requests_are_refused_without_harm(servers):
    url = f"{servers.rasa_url}/webhooks/rest/webhook"
    assert (
        requests.post(url, data="{not json", headers={"Content-Type": "application/json"}, timeout=30).status_code
        >= 400
    )
    assert servers.alive()
