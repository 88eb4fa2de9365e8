"""Messages that list what the assistant can do (help, out of scope)."""

from __future__ import annotations

from typing import Any, Dict, List

from core import phrases
from core.guide import button, message
from core.knowledge import Knowledge


def problem_buttons(kb: Knowledge, lang: str) -> List[Dict[str, str]]:
    """One button per problem, in the guide's order, sending the problem's intent."""
    return [button(kb.label(p.intent, lang) or p.title.get(lang), f"/{p.intent}") for p in kb.problems]


def problem_list(kb: Knowledge, lang: str) -> str:
    return "\n".join(f"{n}. {p.title.get(lang)}" for n, p in enumerate(kb.problems, start=1))


def help_messages(kb: Knowledge, lang: str) -> List[Dict[str, Any]]:
    """The help menu: the problems as a list and as buttons, then the other things the bot does."""
    text = "\n".join([phrases.say("help_intro", lang), problem_list(kb, lang), "", phrases.say("help_outro", lang)])
    return [message(text, problem_buttons(kb, lang))]


def out_of_scope_messages(kb: Knowledge, lang: str) -> List[Dict[str, Any]]:
    """Decline politely and say what the bot can help with."""
    text = "\n".join([phrases.say("out_of_scope", lang), problem_list(kb, lang)])
    return [message(text, problem_buttons(kb, lang))]
