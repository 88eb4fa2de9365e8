"""Unit tests for FAQ, fallback, help, out-of-scope and ticket actions."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from actions.faq_actions import ActionAnswerFaq
from actions.fallback_actions import (ActionAskAffirmation, ActionDefaultFallback, ActionOutOfScope,
                                      ActionShowHelp)
from actions.guide_actions import ActionHandleAnswer, ActionNextStep, ActionStartGuide
from actions.knowledge import knowledge
from actions.ticket_actions import ActionOpenTicket, ActionTicketStatus
from conftest import make_tracker, payloads, run_action, slots_after, texts

ROOT = Path(__file__).resolve().parents[2]


def selector(key: str) -> dict:
    return {"faq": {"response": {"intent_response_key": f"faq/{key}", "confidence": 0.9}}}


def test_faq_answer_comes_from_the_knowledge_file():
    for faq in knowledge().faqs:
        if not faq.intent:
            continue
        key = faq.intent.split("/", 1)[1]
        messages, events = run_action(ActionAnswerFaq(), make_tracker("faq", response_selector=selector(key)))
        assert texts(messages) == faq.answer.get("en")
        assert events == []


def test_faq_from_a_button_payload_entity():
    tracker = make_tracker("faq", entities=[{"entity": "faq_key", "value": "code_expiry"}])
    messages, _ = run_action(ActionAnswerFaq(), tracker)
    assert "expires after 5 minutes" in texts(messages)


def test_faq_mid_guide_answers_then_resumes_at_the_same_step(conversation):
    conversation.turn(ActionStartGuide(), "forgot_password")
    conversation.turn(ActionHandleAnswer(), "affirm")
    for _ in range(3):
        conversation.turn(ActionNextStep(), "next_step")
    messages = conversation.turn(ActionAnswerFaq(), "faq", response_selector=selector("code_expiry"))
    assert "expires after 5 minutes" in messages[0]["text"]
    assert "Back to **Forgotten Password**" in messages[1]["text"]
    assert messages[2]["text"].startswith("Step 4 of 6: Enter the 5-minute-expiring code")
    assert conversation.slots["step_index"] == 3.0  # the FAQ did not move the guide


def test_unknown_faq_key_gets_a_clear_answer():
    messages, _ = run_action(ActionAnswerFaq(), make_tracker("faq"))
    assert "don't have an answer" in texts(messages)


def test_did_you_mean_names_intents_in_human_words():
    ranking = [{"name": "nlu_fallback", "confidence": 0.5}, {"name": "forgot_password", "confidence": 0.4},
               {"name": "out_of_scope", "confidence": 0.3}, {"name": "faq", "confidence": 0.2},
               {"name": "greet", "confidence": 0.05}, {"name": "verification_failed", "confidence": 0.05}]
    tracker = make_tracker("nlu_fallback", intent_ranking=ranking, response_selector=selector("password_rules"))
    messages, events = run_action(ActionAskAffirmation(), tracker)
    buttons = messages[0]["buttons"]
    assert [b["title"] for b in buttons] == ["I forgot my password", "What are the password rules?",
                                            "Two-step verification fails at login", "Something else"]
    assert [b["payload"] for b in buttons] == ["/forgot_password", '/faq{"faq_key":"password_rules"}',
                                              "/verification_failed", "/out_of_scope"]
    assert all("_" not in b["title"] or "ESO_LOCAL_SPAM" in b["title"] for b in buttons)


def test_default_fallback_offers_a_ticket():
    messages, events = run_action(ActionDefaultFallback(), make_tracker("nlu_fallback"))
    assert "couldn't understand" in texts(messages)
    assert payloads(messages) == ["/open_ticket", "/deny"]
    assert slots_after({}, events)["pending_offer"] == "ticket"


def test_help_lists_the_five_problems_as_text_and_buttons():
    messages, _ = run_action(ActionShowHelp(), make_tracker("help"))
    for problem in knowledge().problems:
        assert problem.title.get("en") in messages[0]["text"]
    assert payloads(messages) == [f"/{p.intent}" for p in knowledge().problems]


def test_out_of_scope_says_what_the_bot_can_do_and_resumes(conversation):
    conversation.turn(ActionStartGuide(), "unusual_login_alerts")
    messages = conversation.turn(ActionOutOfScope(), "out_of_scope")
    assert "outside what I can help with" in messages[0]["text"]
    assert "Forgotten Password" in messages[0]["text"]
    assert messages[-1]["text"].startswith("Step 1 of 4")


def test_open_ticket_is_honest_and_never_shows_a_number():
    tracker = make_tracker("open_ticket", slots={"problem": "forgot_password", "steps_failed": ["forgot_password:step 3"],
                                                 "pending_offer": "ticket"})
    messages, events = run_action(ActionOpenTicket(), tracker)
    text = texts(messages)
    assert "can't open support tickets yet" in text
    assert "Forgotten Password, step 3" in text
    assert not re.search(r"ALM-\d", text)
    assert slots_after({}, events)["pending_offer"] is None


def test_ticket_status_is_honest():
    tracker = make_tracker("ticket_status", entities=[{"entity": "ticket_id", "value": "ALM-000042"}])
    messages, _ = run_action(ActionTicketStatus(), tracker)
    assert "can't look up tickets yet" in texts(messages)


def test_every_domain_action_is_implemented_and_every_action_is_in_the_domain():
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    implemented = set(executor.actions)
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert set(domain["actions"]) == implemented
