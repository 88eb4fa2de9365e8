"""core/form_questions.py: the ticket form's questions, from the knowledge file's phrases."""

from __future__ import annotations

from core.form_questions import form_questions


def test_the_questions_in_each_language() -> None:
    en, zh = form_questions("en"), form_questions("zh")
    assert en["utter_ask_contact_email"] == {"text": "Which email address can support reach you at?"}
    assert zh["utter_ask_ticket_description"] == {"text": "请用一两句话说明，遇到了什么问题？"}
    assert ".eml" in en["utter_ask_eml_delivery"]["text"] and len(en["utter_ask_eml_delivery"]["buttons"]) == 3
    assert set(en) == set(zh)
