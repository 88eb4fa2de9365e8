"""actions/fallback_actions.py: "did you mean" and the fallback's ticket offer."""

from __future__ import annotations

from actions.fallback_actions import (
    ActionAskAffirmation,
    ActionDefaultFallback,
)
from core.knowledge import knowledge
from tests.trackers import make_tracker, payloads, run_action, slots_after, texts


def selector(key: str) -> dict:
    return {"faq": {"response": {"intent_response_key": f"faq/{key}", "confidence": 0.9}}}


def test_did_you_mean_names_intents_in_human_words():
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "forgot_password", "confidence": 0.4},
        {"name": "out_of_scope", "confidence": 0.3},
        {"name": "faq", "confidence": 0.2},
        {"name": "greet", "confidence": 0.19},
        {"name": "verification_failed", "confidence": 0.18},
        {"name": "eso_local_spam", "confidence": 0.1},
    ]
    tracker = make_tracker("nlu_fallback", intent_ranking=ranking, response_selector=selector("password_rules"))
    messages, events = run_action(ActionAskAffirmation(), tracker)
    buttons = messages[0]["buttons"]
    assert [b["title"] for b in buttons] == [
        "I forgot my password",
        "What are the password rules?",
        "Two-step verification fails at login",
        "Something else",
    ]
    # an FAQ suggestion sends the FAQ's question as text (a payload can't reach the response selector)
    assert [b["payload"] for b in buttons] == [
        "/forgot_password",
        "What are the password rules?",
        "/verification_failed",
        "/out_of_scope",
    ]
    assert all("_" not in b["title"] or "ESO_LOCAL_SPAM" in b["title"] for b in buttons)


def test_did_you_mean_drops_noise_and_offers_the_topics_instead():
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "next_step", "confidence": 0.12},
        {"name": "help", "confidence": 0.1},
    ]
    tracker = make_tracker("nlu_fallback", text="Привет, я забыл пароль", intent_ranking=ranking)
    messages, _ = run_action(ActionAskAffirmation(), tracker)
    assert "I can help with these topics" in messages[0]["text"]
    assert payloads(messages) == [f"/{p.intent}" for p in knowledge().problems] + ["/out_of_scope"]


def test_messages_without_words_are_told_so():
    for text in ("", "   ", "🙂🔥", "?!"):
        messages, _ = run_action(ActionAskAffirmation(), make_tracker("nlu_fallback", text=text))
        assert "didn't get any words" in messages[0]["text"], text
        assert "/forgot_password" in payloads(messages)


def test_default_fallback_offers_a_ticket():
    messages, events = run_action(ActionDefaultFallback(), make_tracker("nlu_fallback"))
    assert "couldn't understand" in texts(messages)
    assert payloads(messages) == ["/open_ticket", "/deny"]
    assert events[0] == {"event": "rewind", "timestamp": None}
    assert slots_after({}, events)["pending_offer"] == "ticket"
