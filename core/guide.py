"""The guided conversation for one problem, as pure functions of a `GuideState`.

A guide goes: likely cause → (branch question) → steps one at a time →
verification check and "did it work?". Each function takes the state and returns
a `Reply`: the messages to send and the new state. Nothing here talks to Rasa,
so every path is unit-tested directly; `actions.guide_actions` wires it to Rasa.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional

from core import phrases
from core.knowledge import ROLE_POSTMASTER, ROLE_USER, Branch, Knowledge, Problem, canonical_error_code

STAGE_BRANCH = "branch"
STAGE_STEPS = "steps"
STAGE_VERIFY = "verify"
STAGE_DONE = "done"
OFFER_TICKET = "ticket"

PAYLOAD_NEXT = "/next_step"
PAYLOAD_ALL = "/all_steps"
PAYLOAD_FAILED = "/step_failed"
PAYLOAD_YES = "/affirm"
PAYLOAD_NO = "/deny"
PAYLOAD_OPEN_TICKET = "/open_ticket"
PAYLOAD_STOP = "/stop"


def role_payload(role: str) -> str:
    return '/inform_role{"role":"%s"}' % role


@dataclass(frozen=True)
class GuideState:
    """What the conversation knows about the guide in progress (kept in slots)."""

    problem: Optional[str] = None
    stage: Optional[str] = None
    step_index: int = 0
    role: Optional[str] = None
    has_recovery: Optional[bool] = None
    pending_offer: Optional[str] = None
    error_code: Optional[str] = None
    steps_failed: List[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """A guide is running and waiting for the user."""
        return self.problem is not None and self.stage in (STAGE_BRANCH, STAGE_STEPS, STAGE_VERIFY)


@dataclass
class Reply:
    messages: List[Dict[str, Any]]
    state: GuideState


def message(text: str, buttons: Optional[List[Dict[str, str]]] = None) -> Dict[str, Any]:
    out: Dict[str, Any] = {"text": text}
    if buttons:
        out["buttons"] = buttons
    return out


def button(title: str, payload: str) -> Dict[str, str]:
    return {"title": title, "payload": payload}


def _problem(knowledge: Knowledge, state: GuideState) -> Problem:
    """The problem of the running guide (callers check `state.active` first)."""
    if state.problem is None:
        raise KeyError("no guide is running")
    return knowledge.problem(state.problem)


def _branch(problem: Problem) -> Branch:
    """The branch question of a problem in the branch stage (only problems with one get there)."""
    if problem.branch is None:
        raise KeyError(f"problem {problem.key} has no branch question")
    return problem.branch


def _steps(knowledge: Knowledge, state: GuideState) -> list:
    return _problem(knowledge, state).steps_for(state.role)


def _step_message(knowledge: Knowledge, state: GuideState, lang: str) -> Dict[str, Any]:
    steps = _steps(knowledge, state)
    text = phrases.say(
        "step", lang, number=state.step_index + 1, total=len(steps), text=steps[state.step_index].text.get(lang)
    )
    return message(
        text,
        [
            button(phrases.say("button_done_next", lang), PAYLOAD_NEXT),
            button(phrases.say("button_all_steps", lang), PAYLOAD_ALL),
            button(phrases.say("button_failed", lang), PAYLOAD_FAILED),
        ],
    )


def _verification_message(problem: Problem, lang: str) -> Dict[str, Any]:
    lines = [phrases.say("verify_intro", lang)]
    lines += [f"- {check.get(lang)}" for check in problem.verification_checks]
    if problem.verification_expected is not None:
        lines.append(phrases.say("verify_expected", lang, text=problem.verification_expected.get(lang)))
    lines.append("")
    lines.append(phrases.say("did_it_work", lang))
    return message(
        "\n".join(lines),
        [
            button(phrases.say("button_yes_worked", lang), PAYLOAD_YES),
            button(phrases.say("button_no_failed", lang), PAYLOAD_NO),
        ],
    )


def _branch_message(problem: Problem, lang: str) -> Dict[str, Any]:
    branch = _branch(problem)
    if branch.kind == "role":
        buttons = [
            button(branch.labels[ROLE_POSTMASTER].get(lang), role_payload(ROLE_POSTMASTER)),
            button(branch.labels[ROLE_USER].get(lang), role_payload(ROLE_USER)),
        ]
    else:
        buttons = [
            button(branch.labels["yes"].get(lang), PAYLOAD_YES),
            button(branch.labels["no"].get(lang), PAYLOAD_NO),
        ]
    return message(branch.question.get(lang), buttons)


def current_prompt(knowledge: Knowledge, state: GuideState, lang: str) -> List[Dict[str, Any]]:
    """The question or step the guide is waiting on (used to resume after a detour)."""
    if not state.active:
        return []
    problem = _problem(knowledge, state)
    if state.stage == STAGE_BRANCH:
        return [_branch_message(problem, lang)]
    if state.stage == STAGE_VERIFY:
        return [_verification_message(problem, lang)]
    return [_step_message(knowledge, state, lang)]


def start(
    knowledge: Knowledge, problem_key: str, state: GuideState, lang: str, error_code: Optional[str] = None
) -> Reply:
    """Begin (or restart) the guide for a problem: cause, warnings, then the first question or step."""
    problem = knowledge.problem(problem_key)
    code = canonical_error_code(knowledge, error_code) or canonical_error_code(knowledge, state.error_code)
    new = GuideState(
        problem=problem.key,
        stage=STAGE_STEPS,
        step_index=0,
        role=None,
        has_recovery=None,
        pending_offer=None,
        error_code=code,
        steps_failed=list(state.steps_failed),
    )
    intro = [phrases.say("guide_intro", lang, title=problem.title.get(lang), cause=problem.likely_cause.get(lang))]
    if problem.intro_faq:
        intro.append(knowledge.faq(problem.intro_faq).answer.get(lang))
    for note in problem.notes:
        intro.append(phrases.say("note", lang, text=note.get(lang)))
    if problem.explanation is not None:
        intro.append(problem.explanation.get(lang))
    messages = [message("\n\n".join(intro))]
    if problem.branch is not None:
        new = replace(new, stage=STAGE_BRANCH)
        messages.append(_branch_message(problem, lang))
    else:
        messages.append(_step_message(knowledge, new, lang))
    return Reply(messages, new)


def _escalation_reply(knowledge: Knowledge, state: GuideState, lang: str, text: str) -> Reply:
    return Reply(
        [
            message(
                text,
                [
                    button(phrases.say("button_open_ticket", lang), PAYLOAD_OPEN_TICKET),
                    button(phrases.say("button_no_thanks", lang), PAYLOAD_NO),
                ],
            )
        ],
        replace(state, pending_offer=OFFER_TICKET),
    )


def _answer_branch(
    knowledge: Knowledge, state: GuideState, lang: str, yes: Optional[bool], role: Optional[str]
) -> Reply:
    problem = _problem(knowledge, state)
    branch = _branch(problem)
    if branch.kind == "recovery_option":
        if yes is None:
            return Reply([message(phrases.say("please_choose", lang)), _branch_message(problem, lang)], state)
        if yes:
            new = replace(state, has_recovery=True, stage=STAGE_STEPS, step_index=0)
            return Reply([_step_message(knowledge, new, lang)], new)
        new = replace(state, has_recovery=False, stage=STAGE_DONE)
        text = "\n\n".join(
            [
                phrases.say("no_self_service", lang),
                knowledge.faq(branch.faqs["no"]).answer.get(lang),
                phrases.say("offer_escalation", lang),
            ]
        )
        return _escalation_reply(knowledge, new, lang, text)
    # role branch
    if role not in (ROLE_POSTMASTER, ROLE_USER):
        return Reply([message(phrases.say("please_choose", lang)), _branch_message(problem, lang)], state)
    new = replace(state, role=role, stage=STAGE_STEPS, step_index=0)
    if role == ROLE_POSTMASTER:
        return Reply([message(phrases.say("postmaster_steps_intro", lang)), _step_message(knowledge, new, lang)], new)
    steps = _problem(knowledge, state).steps_for(ROLE_USER)
    lines = [knowledge.faq(branch.faqs[ROLE_USER]).answer.get(lang), "", phrases.say("user_steps_intro", lang)]
    lines += [f"{n}. {step.text.get(lang)}" for n, step in enumerate(steps, start=1)]
    lines += ["", phrases.say("offer_escalation", lang)]
    return _escalation_reply(knowledge, replace(new, stage=STAGE_DONE), lang, "\n".join(lines))


def next_step(knowledge: Knowledge, state: GuideState, lang: str) -> Reply:
    """The user finished the current step."""
    if not state.active:
        return Reply([message(phrases.say("no_guide_running", lang))], state)
    state = replace(state, pending_offer=None)
    if state.stage != STAGE_STEPS:
        return Reply(current_prompt(knowledge, state, lang), state)
    if state.step_index + 1 < len(_steps(knowledge, state)):
        new = replace(state, step_index=state.step_index + 1)
        return Reply([_step_message(knowledge, new, lang)], new)
    new = replace(state, stage=STAGE_VERIFY)
    return Reply([_verification_message(_problem(knowledge, state), lang)], new)


def all_steps(knowledge: Knowledge, state: GuideState, lang: str) -> Reply:
    """Every remaining step at once, then the verification check."""
    if not state.active:
        return Reply([message(phrases.say("no_guide_running", lang))], state)
    if state.stage == STAGE_BRANCH:
        return Reply([message(phrases.say("answer_first", lang))] + current_prompt(knowledge, state, lang), state)
    problem = _problem(knowledge, state)
    steps = _steps(knowledge, state)
    first = state.step_index if state.stage == STAGE_STEPS else len(steps)
    lines = [phrases.say("all_steps_intro", lang, title=problem.title.get(lang))]
    lines += [f"{n}. {step.text.get(lang)}" for n, step in enumerate(steps, start=1) if n - 1 >= first]
    new = replace(state, stage=STAGE_VERIFY, step_index=len(steps) - 1, pending_offer=None)
    if first >= len(steps):
        return Reply([_verification_message(problem, lang)], new)
    return Reply([message("\n".join(lines)), _verification_message(problem, lang)], new)


def step_failed(knowledge: Knowledge, state: GuideState, lang: str) -> Reply:
    """The user says something did not work: record it and offer a ticket."""
    if not state.active and state.problem is None:
        return _escalation_reply(
            knowledge,
            state,
            lang,
            "\n\n".join([phrases.say("sorry_failed_no_guide", lang), phrases.say("offer_escalation", lang)]),
        )
    failed = list(state.steps_failed)
    if state.stage == STAGE_STEPS:
        record = f"{state.problem}:step {state.step_index + 1}"
        what = phrases.say("failed_step", lang, number=state.step_index + 1)
    else:
        record = f"{state.problem}:verification" if state.stage == STAGE_VERIFY else f"{state.problem}"
        what = phrases.say("failed_guide", lang)
    if record not in failed:
        failed.append(record)
    text = "\n\n".join([what, phrases.say("offer_escalation", lang)])
    return _escalation_reply(knowledge, replace(state, steps_failed=failed), lang, text)


def request_human(knowledge: Knowledge, state: GuideState, lang: str, in_ticket_form: bool = False) -> Reply:
    """The user asks for a person: say honestly that there is no live chat, and offer a ticket.

    In the ticket form the ticket is already on its way to people, so the form goes on instead."""
    if in_ticket_form:
        return Reply([message(phrases.say("human_in_ticket_form", lang))], state)
    text = "\n\n".join([phrases.say("no_live_chat", lang), phrases.say("offer_escalation", lang)])
    return _escalation_reply(knowledge, state, lang, text)


def answer(knowledge: Knowledge, state: GuideState, lang: str, intent: str, role: Optional[str] = None) -> Reply:
    """The user answered yes/no or named their role: the meaning depends on what was asked."""
    yes = {"affirm": True, "deny": False}.get(intent)
    if state.pending_offer == OFFER_TICKET and intent in ("affirm", "deny"):
        if yes:
            return Reply([], replace(state, pending_offer=None))  # caller opens the ticket
        new = replace(state, pending_offer=None)
        return Reply([message(phrases.say("offer_declined", lang))] + current_prompt(knowledge, new, lang), new)
    if not state.active:
        if intent == "inform_role":
            return Reply([message(phrases.say("role_noted", lang))], replace(state, role=role))
        return Reply([message(phrases.say("no_question_pending", lang))], state)
    if state.stage == STAGE_BRANCH:
        return _answer_branch(knowledge, state, lang, yes, role)
    if state.stage == STAGE_STEPS:
        if yes is True:
            return next_step(knowledge, state, lang)
        if yes is False:
            return Reply(
                [message(phrases.say("step_no_unclear", lang))] + current_prompt(knowledge, state, lang), state
            )
        return Reply(
            [message(phrases.say("role_noted", lang))] + current_prompt(knowledge, state, lang),
            replace(state, role=role) if role else state,
        )
    # verification
    if yes is True:
        return Reply([message(phrases.say("glad_it_worked", lang))], replace(state, stage=STAGE_DONE))
    if yes is False:
        return step_failed(knowledge, state, lang)
    return Reply(current_prompt(knowledge, state, lang), state)


def stop(state: GuideState, lang: str) -> Reply:
    """Leave the guide; the failures recorded so far are kept for a ticket."""
    text = phrases.say("stopped", lang) if state.active else phrases.say("nothing_to_stop", lang)
    return Reply([message(text)], GuideState(steps_failed=list(state.steps_failed), error_code=state.error_code))
