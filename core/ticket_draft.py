"""What a ticket says, derived from the conversation: queue, priority, steps tried, masked transcript."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

from core import phrases
from core.guide import STAGE_DONE, STAGE_STEPS, STAGE_VERIFY, GuideState
from core.knowledge import ROLE_POSTMASTER, ROLE_USER, Knowledge, knowledge
from core.secrets import mask_secrets

QUEUE_POSTMASTER = "postmaster"
QUEUE_SUPPORT = "support"
DEFAULT_PRIORITY = "Medium"  # no problem identified: the guide's middle severity
EML_PROBLEMS = ("eso_local_spam", "marked_as_spam")


def queue_for(state: GuideState) -> str:
    """The guide sends these cases to the postmaster; everything else goes to support."""
    if state.problem == "forgot_password" and state.has_recovery is False:
        return QUEUE_POSTMASTER
    if state.problem == "verification_failed" and state.role == ROLE_USER:
        return QUEUE_POSTMASTER
    return QUEUE_SUPPORT


def priority_for(kb: Knowledge, state: GuideState) -> str:
    """High / Medium / Low from the guide's severity of the problem."""
    if not state.problem:
        return DEFAULT_PRIORITY
    return kb.severities[kb.problem(state.problem).severity].get("en")


def priority_label(kb: Knowledge, priority: str, lang: str) -> str:
    """A stored priority (the guide's English severity word) in `lang`."""
    for text in kb.severities.values():
        if text.get(kb.default_language) == priority:
            return text.get(lang)
    return priority


def queue_label(queue: str, lang: str) -> str:
    """A queue's name in `lang` (phrases `queue_<name>`)."""
    key = f"queue_{queue}"
    return phrases.say(key, lang) if key in knowledge().phrases else queue


def is_postmaster(state: GuideState) -> Optional[bool]:
    if state.role == ROLE_POSTMASTER:
        return True
    if state.role == ROLE_USER:
        return False
    return None


def steps_tried(kb: Knowledge, state: GuideState) -> List[str]:
    """The guide steps the user was shown, each marked when it failed, then failures of other guides."""
    lines: List[str] = []
    failed = set(state.steps_failed)
    if state.problem and state.stage in (STAGE_STEPS, STAGE_VERIFY, STAGE_DONE):
        steps = kb.problem(state.problem).steps_for(state.role)
        reached = len(steps) if state.stage in (STAGE_VERIFY, STAGE_DONE) else state.step_index + 1
        if state.stage == STAGE_DONE and state.problem and state.has_recovery is False:
            reached = 0  # no step applies without a recovery option
        for number, step in enumerate(steps[:reached], start=1):
            mark = " (failed)" if f"{state.problem}:step {number}" in failed else ""
            lines.append(f"{state.problem} step {number}: {step.text.get('en')}{mark}")
        if f"{state.problem}:verification" in failed:
            lines.append(f"{state.problem} verification: failed")
    for record in state.steps_failed:
        if not record.startswith(f"{state.problem}:"):
            lines.append(f"{record.replace(':', ' ')} (failed)")
    return lines


def transcript(events: Iterable[Dict[str, Any]], limit: int = 200) -> List[Dict[str, str]]:
    """User and bot messages in order, secrets masked; the last `limit` entries."""
    lines = []
    for event in events:
        if event.get("event") == "user" and event.get("text") is not None:
            lines.append({"who": "user", "text": mask_secrets(str(event["text"]))[:2000]})
        elif event.get("event") == "bot" and event.get("text"):
            lines.append({"who": "bot", "text": mask_secrets(str(event["text"]))[:2000]})
    return lines[-limit:]


def default_description(kb: Knowledge, state: GuideState, lang: Optional[str] = None) -> Optional[str]:
    """A description from what the conversation already established, in `lang` (None without a problem)."""
    if not state.problem:
        return None
    parts = [phrases.say("description_self_help_failed", lang, title=kb.problem(state.problem).title.get(lang))]
    if state.error_code:
        parts.append(phrases.say("description_error_code", lang, code=state.error_code))
    if state.has_recovery is False:
        parts.append(phrases.say("description_no_recovery", lang))
    return " ".join(parts)
